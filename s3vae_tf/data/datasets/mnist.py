"""MNIST digits from IDX files: found by their official names, read and checked, downloaded for real users.

The directory is --mnist-dir, else $S3VAE_MNIST_DIR, else ``<data_dir>/mnist`` (where missing files are
downloaded and md5-checked). The official names are preferred, gzipped (``train-images-idx3-ubyte.gz``) or
not. Another training-image file (for example a reconstruction such as ``train-images-idx3-ubyte.approx.gz``)
is used only when named explicitly with --mnist-train-images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from s3vae_tf.config import DataConfig
from s3vae_tf.data.storage.download import download
from s3vae_tf.data.storage.sources import given_path
from s3vae_tf.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# md5 of the official .gz files, as published with them.
GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
HINT = "download the four MNIST IDX files yourself and pass --mnist-dir (or set S3VAE_MNIST_DIR)"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The uint8 array of an IDX image (N, rows, cols) or label (N,) file, gzipped or not, fully checked."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"MNIST file {path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"MNIST file {path} is not readable gzip data: {exc}") from None
    if len(raw) < 8:
        raise DataError(f"MNIST file {path} is too short to be an IDX file")
    magic, count = int.from_bytes(raw[0:4], "big"), int.from_bytes(raw[4:8], "big")
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise DataError(f"MNIST file {path} is too short to be an IDX image file")
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"MNIST file {path} is not an IDX image or label file (magic number {magic})")
    expected = offset + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"MNIST file {path} holds {len(raw)} bytes, its header promises {expected}")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)


def _find_official(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def source_files(config: DataConfig, data_root: Path) -> dict[str, Path] | None:
    """The four files (keys of :data:`FILES`) as they are now, without downloading: from the chosen directory
    (checked: DataError naming what is missing), else the data directory's; None when one of those is not
    there yet (it would be downloaded). Explicit paths are always checked."""
    explicit = _explicit_train_images(config)
    directory = given_path(config.mnist_dir, "S3VAE_MNIST_DIR", "MNIST directory", "--mnist-dir")
    if directory is not None:
        found = {key: _find_official(directory, stem) for key, stem in FILES.items()}
        if explicit is not None:
            found["train_images"] = explicit
        missing = [FILES[key] + ".gz" for key, path in found.items() if path is None]
        if missing:
            extra = ""
            if found["train_images"] is None and any(directory.glob(FILES["train_images"] + ".*")):
                others = sorted(p.name for p in directory.glob(FILES["train_images"] + ".*"))
                extra = f" ({', '.join(others)} is not the official file; name it with --mnist-train-images to use it)"
            raise DataError(f"MNIST directory {directory} lacks {', '.join(missing)}{extra}")
        return found  # type: ignore[return-value]
    found = {key: _find_official(Path(data_root) / "mnist", stem) for key, stem in FILES.items()}
    if explicit is not None:
        found["train_images"] = explicit
    return None if any(path is None for path in found.values()) else found  # type: ignore[return-value]


def resolve_files(config: DataConfig, data_root: Path) -> dict[str, Path]:
    """Paths of the four files: :func:`source_files`, with the data directory's missing ones downloaded."""
    found = source_files(config, data_root)
    if found is not None:
        return found
    directory, explicit = Path(data_root) / "mnist", _explicit_train_images(config)
    return {
        key: explicit if key == "train_images" and explicit is not None else _find_official(directory, stem) or fetch(stem + ".gz", directory)
        for key, stem in FILES.items()
    }


def _explicit_train_images(config: DataConfig) -> Path | None:
    """--mnist-train-images, checked (DataError when it does not exist), or None."""
    explicit = Path(config.mnist_train_images).expanduser() if config.mnist_train_images else None
    if explicit is not None and not explicit.is_file():
        raise DataError(f"--mnist-train-images {explicit} does not exist")
    return explicit


def fetch(name: str, directory: Path) -> Path:
    """Download one official file (trying each mirror) and check its md5; offline: one-line DataError."""
    error: DataError | None = None
    for mirror in MIRRORS:
        try:
            path = download(mirror + name, Path(directory) / name, hint=HINT)
        except DataError as exc:
            error = error or exc
            continue
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        if digest == GZ_MD5[name]:
            return path
        path.unlink()
        error = error or DataError(f"downloaded {mirror + name} has md5 {digest}, expected {GZ_MD5[name]}; {HINT}")
    assert error is not None
    raise error


def load_split(files: dict[str, Path], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) of ``split`` ("train" or "test"), checked against each other."""
    images, labels = read_idx(files[f"{split}_images"]), read_idx(files[f"{split}_labels"])
    if images.ndim != 3:
        raise DataError(f"MNIST file {files[f'{split}_images']} holds labels, not images")
    if labels.ndim != 1:
        raise DataError(f"MNIST file {files[f'{split}_labels']} holds images, not labels")
    if len(images) != len(labels):
        raise DataError(f"MNIST {split} split: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST file {files[f'{split}_labels']} holds labels above 9")
    return images, labels
