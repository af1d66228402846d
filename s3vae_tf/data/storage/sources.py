"""Where a dataset's source files come from: the flag, else its environment variable, else the data directory's
cache (downloaded when missing, by the caller)."""

from __future__ import annotations

import os
from pathlib import Path

from s3vae_tf.errors import DataError


def given(flag: str, env: str) -> str:
    """The location named by the flag's value, else by ``$env``; "" when neither names one."""
    return flag or os.environ.get(env, "")


def given_path(flag: str, env: str, what: str, flag_name: str, kind: str = "dir") -> Path | None:
    """:func:`given` as a path that must exist (``kind``: "dir" or "file"); None when neither names one.

    A named path that is missing is a DataError naming it and where it came from ("from --lpc-dir / S3VAE_LPC_DIR").
    """
    chosen = given(flag, env)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not (path.is_dir() if kind == "dir" else path.is_file()):
        raise DataError(f"{what} {path} does not exist (from {flag_name} / {env})")
    return path
