"""Prepared arrays on disk: one .npy per array plus a manifest with checksums, parameters and sources.

A cache whose manifest, parameters, checksums or source files (the sha256 of each file it was built from,
where those files are known) do not match is reported and rebuilt, never used. Files are written
atomically and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from s3vae_tf.errors import DataError
from s3vae_tf.io import atomic_path, atomic_write_text, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ALIGNMENT = 64  # bytes: what TensorFlow's kernels need to use a numpy buffer without copying it


def read_aligned(path: Path) -> np.ndarray:
    """Read a .npy file (never pickles) into a ``ALIGNMENT``-byte aligned buffer.

    ``np.load``'s buffers are only 16-byte aligned, so TensorFlow would copy them; an aligned array can back
    a tensor as it is (``s3vae_tf.data.pipeline.host_tensor``), and a prepared split is then held once.
    """
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            return np.load(path, allow_pickle=False)
        if dtype.hasobject:
            raise ValueError(f"{path.name} holds Python objects, which are never loaded")
        if fortran_order:
            return np.load(path, allow_pickle=False)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        buffer = np.empty(nbytes + ALIGNMENT, np.uint8)
        offset = (-buffer.ctypes.data) % ALIGNMENT
        flat = buffer[offset : offset + nbytes]
        if fh.readinto(memoryview(flat)) != nbytes:
            raise ValueError(f"{path.name} is truncated")
    return flat.view(dtype).reshape(shape)


def source_digests(files: Mapping[str, Path]) -> dict[str, str]:
    """``{name: sha256}`` of the source files a cache is built from (DataError naming a file that cannot be read)."""
    digests = {}
    for name, path in sorted(files.items()):
        try:
            digests[name] = sha256_file(Path(path))
        except OSError as exc:
            raise DataError(f"cannot read source file {path}: {exc.strerror or exc}") from None
    return digests


def _changed(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> str:
    """A short account of how the source files differ from those the cache was built from."""
    if recorded is None:
        return "it does not record the source files it was built from"
    names = sorted(n for n in recorded.keys() | current.keys() if recorded.get(n) != current.get(n))
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"its source files changed ({shown})"


class ArrayCache:
    """A directory of named numpy arrays, valid only for the parameters it was built with."""

    def __init__(self, directory: Path, params: Mapping[str, Any]):
        self.directory = Path(directory)
        self.params = json.loads(json.dumps(dict(params)))  # normalise tuples etc. to JSON types

    def load(self, verify: bool = True, sources: Mapping[str, str] | None = None) -> dict[str, np.ndarray] | None:
        """Return the arrays, or None (with the reason logged) when the cache is absent or invalid.

        ``sources`` (:func:`source_digests` of the files the cache would be built from now) must equal what the
        cache recorded; None when the sources are not at hand (the cache then stands on its parameters).
        """
        manifest_path = self.directory / MANIFEST
        if not manifest_path.exists():
            return None
        problem = None
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("params") != self.params:
                problem = "it was prepared with other parameters"
            elif sources is not None and manifest.get("sources") != dict(sources):
                problem = _changed(manifest.get("sources"), sources)
            else:
                arrays = {}
                for name, entry in manifest["arrays"].items():
                    path = self.directory / f"{name}.npy"
                    if verify and sha256_file(path) != entry["sha256"]:
                        problem = f"{path.name} does not match its checksum"
                        break
                    array = read_aligned(path)
                    if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
                        problem = f"{path.name} has the wrong shape or dtype"
                        break
                    arrays[name] = array
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = f"it cannot be read ({exc})"
        if problem:
            log.warning("cache %s is stale or corrupt: %s; rebuilding it", self.directory, problem)
            print(f"cache {self.directory} is stale or corrupt: {problem}; rebuilding it", flush=True)
            return None
        return arrays

    def ensure_writable(self) -> None:
        """Fail now, not after an expensive preparation, when the cache directory cannot be written."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.directory / ".write-test"):
                pass
            (self.directory / ".write-test").unlink()
        except OSError as exc:
            raise DataError(f"cannot write prepared data to {self.directory}: {exc.strerror or exc}") from None

    def save(self, arrays: Mapping[str, np.ndarray], sources: Mapping[str, str] | None = None) -> None:
        """Write every array, then the manifest last (with ``sources``): a cache without a manifest is never read."""
        try:
            self._save(arrays, sources)
        except OSError as exc:
            raise DataError(f"cannot write prepared data to {self.directory}: {exc.strerror or exc}") from None

    def _save(self, arrays: Mapping[str, np.ndarray], sources: Mapping[str, str] | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        manifest_path = self.directory / MANIFEST
        if manifest_path.exists():
            manifest_path.unlink()
        entries = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            path = self.directory / f"{name}.npy"
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, array, allow_pickle=False)
            entries[name] = {"sha256": sha256_file(path), "shape": list(array.shape), "dtype": str(array.dtype)}
        manifest: dict[str, Any] = {"params": self.params, "arrays": entries}
        if sources is not None:
            manifest["sources"] = dict(sorted(sources.items()))
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
