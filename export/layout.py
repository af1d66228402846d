"""Where an export's files go, and how they get there: staged beside the target, then renamed into place.

::

    DIR/metadata.json                     written last (atomically): describes everything below
    DIR/savedmodel/<name>/<version>/      TF Serving layout (other versions are left alone)
    DIR/onnx/{encode,decode,swap,generate}.onnx
    DIR/tflite/{encode,decode,swap,generate}.tflite
    DIR/samples/NN.gif                    real test clips

Everything is first written into ``DIR/.staging-<pid>-*``; only a complete export is moved into place, one
rename per directory, so a failed or interrupted export leaves no half-written version directory. The renames
and metadata.json are bracketed by a journal, ``DIR/.publishing.json`` (the directories being moved in and
the sha256 of the metadata.json that completes them): an export killed between two renames leaves
directories that metadata.json does not describe (servers refuse them, their checksums do not match), and the
next export into ``DIR`` removes them first (:func:`recover`), so rerunning the same command completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from export.metadata import FILE as METADATA
from s3vae_tf.io import atomic_write_text

STAGING_PREFIX = ".staging-"
JOURNAL = ".publishing.json"


def savedmodel_dir(name: str, version: int) -> str:
    return f"savedmodel/{name}/{version}"


def is_empty(directory: Path) -> bool:
    """No entries besides leftovers of interrupted exports."""
    return not any(not entry.name.startswith(STAGING_PREFIX) and entry.name != JOURNAL for entry in Path(directory).iterdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        pass
    return True


def recover(out: Path, log: Callable[[str], None] = print) -> None:
    """Undo what an interrupted export left in ``out``: staging directories of processes no longer running,
    and directories moved into place by a publication whose metadata.json was never written."""
    out = Path(out)
    if not out.is_dir():
        return
    for entry in out.iterdir():
        pid = entry.name[len(STAGING_PREFIX):].split("-", 1)[0] if entry.name.startswith(STAGING_PREFIX) else ""
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
    journal = out / JOURNAL
    if not journal.exists():
        return
    try:
        entry = json.loads(journal.read_text())
        paths, expected = list(entry["paths"]), entry["metadata_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        paths, expected = [], None
    meta = out / METADATA
    completed = meta.is_file() and hashlib.sha256(meta.read_bytes()).hexdigest() == expected
    if not completed:
        for rel in paths:
            target = out / rel
            if target.resolve().is_relative_to(out.resolve()) and target.exists():
                log(f"removing {target}: an interrupted export moved it in without describing it")
                shutil.rmtree(target, ignore_errors=True)
                for parent in target.parents:  # savedmodel/<name>/ when it held only this version
                    if parent == out or any(parent.iterdir()):
                        break
                    parent.rmdir()
    journal.unlink()


@contextlib.contextmanager
def publishing(out: Path, paths: list[str], metadata_text: str) -> Iterator[None]:
    """Bracket the renames of ``paths`` and the write of ``metadata_text`` with the journal (see :func:`recover`)."""
    digest = hashlib.sha256(metadata_text.encode()).hexdigest()
    atomic_write_text(Path(out) / JOURNAL, json.dumps({"paths": paths, "metadata_sha256": digest}))
    yield
    (Path(out) / JOURNAL).unlink()


@contextlib.contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh staging directory inside ``out`` (same file system: renames are atomic), always removed.

    If ``out`` did not exist and the export fails, ``out`` is removed again when it is still empty.
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out))
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
