"""``python -m serving --export-dir DIR``: see :mod:`serving.command`."""

import sys

from serving.command import entry

if __name__ == "__main__":
    sys.exit(entry())
