"""``python -m export --run RUN_DIR --out DIR``: see :mod:`export.command`."""

import sys

from export.command import entry

if __name__ == "__main__":
    sys.exit(entry())
