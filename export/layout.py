"""Where an export's files go, and how they get there: staged beside the target, then renamed into place.

::

    DIR/metadata.json                     written last (atomically): describes everything below
    DIR/savedmodel/<name>/<version>/      TF Serving layout (other versions are left alone)
    DIR/onnx/{encode,decode,swap,generate}.onnx
    DIR/tflite/{encode,decode,swap,generate}.tflite
    DIR/samples/NN.gif                    real test clips

Everything is first written into ``DIR/.staging-*``; only a complete export is moved into place, one
rename per directory, so a failed or interrupted export leaves no half-written version directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

STAGING_PREFIX = ".staging-"


def savedmodel_dir(name: str, version: int) -> str:
    return f"savedmodel/{name}/{version}"


def is_empty(directory: Path) -> bool:
    """No entries besides leftovers of interrupted exports."""
    return not any(not entry.name.startswith(STAGING_PREFIX) for entry in Path(directory).iterdir())


@contextlib.contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh staging directory inside ``out`` (same file system: renames are atomic), always removed.

    If ``out`` did not exist and the export fails, ``out`` is removed again when it is still empty.
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    ok = False
    try:
        yield stage
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not ok and out.exists() and not any(out.iterdir()):
            out.rmdir()


def move_into_place(stage: Path, relative: str, out: Path) -> None:
    """Rename ``stage / relative`` to ``out / relative``; an existing target is first moved into the stage."""
    source, target = Path(stage) / relative, Path(out) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix="replaced-", dir=stage))
        os.replace(target, old / target.name)
    os.replace(source, target)


def remove(out: Path, relative: str) -> None:
    """Delete ``out / relative`` (a directory of a previous export that no longer matches the weights)."""
    shutil.rmtree(Path(out) / relative, ignore_errors=True)
