"""MNIST IDX files: reading and checking them, the official names first, the reconstruction only on request."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from s3vae_tf.config import DataConfig
from s3vae_tf.data.datasets import mnist
from s3vae_tf.errors import DataError
from tests.conftest import shared


@pytest.fixture(scope="module")
def mnist_dir():
    return shared("mnist")


def test_reads_the_real_test_split(mnist_dir):
    images = mnist.read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = mnist.read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and list(labels[:8]) == [7, 2, 1, 0, 4, 1, 4, 9]
    assert images.max() == 255 and images[0, 0, 0] == 0


def _header(*numbers: int) -> bytes:
    return b"".join(n.to_bytes(4, "big") for n in numbers)


def _idx(tmp_path, name, header: bytes, body: bytes, compress=True):
    path = tmp_path / name
    data = header + body
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_bad_files_are_clear_errors(tmp_path):
    ok = _idx(tmp_path, "ok", _header(2051, 2, 2, 2), bytes(8), False)
    assert mnist.read_idx(ok).shape == (2, 2, 2)  # uncompressed files are read too
    short = _idx(tmp_path, "short.gz", _header(2051, 3, 28, 28), bytes(100))
    with pytest.raises(DataError, match="header promises"):
        mnist.read_idx(short)
    magic = _idx(tmp_path, "magic.gz", _header(1234, 1), bytes(1))
    with pytest.raises(DataError, match="not an IDX image or label file"):
        mnist.read_idx(magic)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 then garbage")
    with pytest.raises(DataError, match="not readable gzip data"):
        mnist.read_idx(broken)


def _link_dir(tmp_path, mnist_dir, names):
    out = tmp_path / "mnist"
    out.mkdir()
    for target, source in names.items():
        os.symlink(mnist_dir / source, out / target)
    return out


def test_official_names_are_preferred_and_the_reconstruction_needs_naming(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.delenv("S3VAE_MNIST_DIR", raising=False)
    with pytest.raises(DataError) as info:
        mnist.resolve_files(DataConfig(mnist_dir=str(mnist_dir)), tmp_path)
    assert "lacks train-images-idx3-ubyte.gz" in str(info.value) and "--mnist-train-images" in str(info.value)

    approx = mnist_dir / "train-images-idx3-ubyte.approx.gz"
    files = mnist.resolve_files(DataConfig(mnist_dir=str(mnist_dir), mnist_train_images=str(approx)), tmp_path)
    assert files["train_images"] == approx and files["test_images"].name == "t10k-images-idx3-ubyte.gz"

    # a directory with an official train-images file and the reconstruction: the official one wins
    names = {n: n for n in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    names["train-images-idx3-ubyte.gz"] = "t10k-images-idx3-ubyte.gz"  # stands in for the official file
    names["train-images-idx3-ubyte.approx.gz"] = "train-images-idx3-ubyte.approx.gz"
    directory = _link_dir(tmp_path, mnist_dir, names)
    monkeypatch.setenv("S3VAE_MNIST_DIR", str(directory))
    files = mnist.resolve_files(DataConfig(), tmp_path)
    assert files["train_images"] == directory / "train-images-idx3-ubyte.gz"


def test_mismatched_split_is_a_clear_error(tmp_path, mnist_dir):
    names = {
        "train-images-idx3-ubyte.gz": "t10k-images-idx3-ubyte.gz",  # 10000 images
        "train-labels-idx1-ubyte.gz": "train-labels-idx1-ubyte.gz",  # 60000 labels
        "t10k-images-idx3-ubyte.gz": "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz": "t10k-labels-idx1-ubyte.gz",
    }
    files = mnist.resolve_files(DataConfig(mnist_dir=str(_link_dir(tmp_path, mnist_dir, names))), tmp_path)
    with pytest.raises(DataError, match="10000 images but 60000 labels"):
        mnist.load_split(files, "train")


def test_missing_directory_and_offline_download(tmp_path, monkeypatch):
    monkeypatch.delenv("S3VAE_MNIST_DIR", raising=False)
    with pytest.raises(DataError, match="MNIST directory .* does not exist"):
        mnist.resolve_files(DataConfig(mnist_dir=str(tmp_path / "nope")), tmp_path)
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    with pytest.raises(DataError) as info:
        mnist.resolve_files(DataConfig(), tmp_path / "data")
    message = str(info.value)
    assert "cannot download" in message and "--mnist-dir" in message and "\n" not in message
    assert not list((tmp_path / "data").rglob("*.gz")), "no partial download may remain"


def test_source_files_check_explicit_paths_without_downloading(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.delenv("S3VAE_MNIST_DIR", raising=False)
    with pytest.raises(DataError, match="MNIST directory .* does not exist"):
        mnist.source_files(DataConfig(mnist_dir=str(tmp_path / "nope")), tmp_path)
    with pytest.raises(DataError, match="--mnist-train-images .* does not exist"):
        mnist.source_files(DataConfig(mnist_train_images=str(tmp_path / "nope.gz")), tmp_path)
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    assert mnist.source_files(DataConfig(), tmp_path / "empty") is None, "not downloaded yet: nothing to hash"
    approx = mnist_dir / "train-images-idx3-ubyte.approx.gz"
    files = mnist.source_files(DataConfig(mnist_dir=str(mnist_dir), mnist_train_images=str(approx)), tmp_path)
    assert set(files) == set(mnist.FILES) and files["train_images"] == approx
