"""What every command shares: one-line errors with exit code 2, quiet TensorFlow start-up."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from s3vae_tf.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits with code 2."""

    def error(self, message: str):  # noqa: D102  (argparse API)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up chatter unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None, prog: str = "") -> int:
    """Call ``main(argv)``; a UsageError becomes ``prog: error: message`` on stderr and exit code 2."""
    try:
        return int(main(argv) or 0)
    except UsageError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"{prog or 'error'}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # argparse: --help, or a bad flag already reported in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog or 'error'}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
