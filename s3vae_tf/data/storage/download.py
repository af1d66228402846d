"""Fetch public data for real users; offline, fail with one line that says what to pass instead."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from s3vae_tf.errors import DataError
from s3vae_tf.io import atomic_path


def download(url: str, target: Path, *, sha256: str | None = None, hint: str = "", timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target`` atomically, checking ``sha256`` when given.

    ``hint`` tells the user how to provide the file by hand (e.g. "pass --lpc-dir").
    """
    target = Path(target)
    suffix = f"; {hint}" if hint else ""
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
            if sha256 is not None:
                digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
                if digest != sha256:
                    raise DataError(f"downloaded {url} has sha256 {digest}, expected {sha256}{suffix}")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url} (offline?): {reason}{suffix}") from None
    return target
