"""What every command shares: one-line errors with exit code 2, quiet TensorFlow start-up, flags made from
a settings dataclass, the flags naming a trained run.

Bad input ends in one line on stderr. TensorFlow writes its own start-up lines to stderr when it is first imported,
whatever ``TF_CPP_MIN_LOG_LEVEL`` says, so a command checks its flags, paths and run directory first and imports
the modules that load TensorFlow afterwards (inside the function, with a comment saying so): the only
function-local imports besides optional dependencies.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from typing import Any, Callable, Sequence

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


def add_field_flags(group, settings: type, defaults: Any, dest_prefix: str = "", set_defaults: bool = True,
                    skip: Sequence[str] = ()) -> None:
    """One flag per field of the dataclass ``settings`` (``--batch-size`` for ``batch_size``), typed by its
    annotation, bools as ``--x / --no-x``; each help text shows the field's value in ``defaults``. With
    ``set_defaults=False`` a flag not given is absent from the parsed namespace (the parser must use
    ``argument_default=argparse.SUPPRESS``), so a caller can tell "not given" from "given the default".
    Fields named in ``skip`` get no flag."""
    hints = typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        if field.name in skip:
            continue
        kind, default = hints[field.name], getattr(defaults, field.name)
        flag, dest = "--" + field.name.replace("_", "-"), dest_prefix + field.name
        extra = {"default": default} if set_defaults else {}
        if kind is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, help=f"(default: {default})", **extra)
        else:
            group.add_argument(flag, dest=dest, type=kind, metavar=kind.__name__.upper(), help=f"(default: {default!r})", **extra)


def field_values(args: argparse.Namespace, settings: type, **fixed: Any) -> Any:
    """The dataclass ``settings`` built from the flags :func:`add_field_flags` added (``fixed`` for the rest)."""
    names = [field.name for field in dataclasses.fields(settings) if field.name not in fixed]
    return settings(**{name: getattr(args, name) for name in names}, **fixed)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """``--run``, ``--data-dir`` and ``--seed``: the flags of every command that reads a trained run."""
    parser.add_argument("--run", required=True, help="run directory (as written by python -m s3vae_tf.train)")
    parser.add_argument("--data-dir", default="", help="prepared data root (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, metavar="INT", help="seed of the sampling noise (default: 0)")
