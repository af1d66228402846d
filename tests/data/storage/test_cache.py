"""Prepared-array cache: round trip, corruption and stale parameters force a rebuild."""

from __future__ import annotations

import numpy as np

from s3vae_tf.data.storage.cache import ALIGNMENT, ArrayCache, read_aligned


def test_round_trip(tmp_path):
    arrays = {"a": np.arange(10, dtype=np.uint8), "b": np.ones((2, 3), np.float32)}
    ArrayCache(tmp_path, {"p": 1}).save(arrays)
    loaded = ArrayCache(tmp_path, {"p": 1}).load()
    assert loaded is not None
    for name in arrays:
        np.testing.assert_array_equal(loaded[name], arrays[name])
    assert not list(tmp_path.glob("*.tmp")), "no temporary files left behind"


def test_corrupt_file_is_detected(tmp_path, capsys):
    ArrayCache(tmp_path, {"p": 1}).save({"a": np.arange(1000, dtype=np.int64)})
    path = tmp_path / "a.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte: the header still parses
    path.write_bytes(bytes(data))
    assert ArrayCache(tmp_path, {"p": 1}).load() is None
    assert "does not match its checksum" in capsys.readouterr().out


def test_other_parameters_are_stale(tmp_path):
    ArrayCache(tmp_path, {"threshold": 0.5}).save({"a": np.zeros(3)})
    assert ArrayCache(tmp_path, {"threshold": 0.25}).load() is None


def test_interrupted_write_is_never_read(tmp_path):
    ArrayCache(tmp_path, {"p": 1}).save({"a": np.zeros(3)})
    (tmp_path / "manifest.json").unlink()  # what a crash before the manifest leaves
    assert ArrayCache(tmp_path, {"p": 1}).load() is None


def test_truncated_file_is_detected(tmp_path):
    ArrayCache(tmp_path, {"p": 1}).save({"a": np.zeros(1000)})
    path = tmp_path / "a.npy"
    path.write_bytes(path.read_bytes()[:100])
    assert ArrayCache(tmp_path, {"p": 1}).load() is None


def test_arrays_load_aligned_and_equal(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"frames": rng.integers(0, 256, (3, 4, 8, 8, 3), dtype=np.uint8), "labels": rng.normal(size=(5, 2)).astype(">f8")}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        loaded = read_aligned(tmp_path / f"{name}.npy")
        assert loaded.ctypes.data % ALIGNMENT == 0 and loaded.flags.c_contiguous and loaded.flags.writeable
        assert loaded.dtype == array.dtype and loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)


def test_object_arrays_are_never_loaded(tmp_path):
    import pytest

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        read_aligned(tmp_path / "objects.npy")


def test_changed_sources_are_stale(tmp_path, capsys):
    sources = {"body/0.png": "aa", "hair/1.png": "bb"}
    ArrayCache(tmp_path, {"p": 1}).save({"a": np.arange(3)}, sources)
    assert ArrayCache(tmp_path, {"p": 1}).load(sources=dict(sources)) is not None
    assert ArrayCache(tmp_path, {"p": 1}).load() is not None, "sources not at hand: the cache stands on its parameters"
    assert ArrayCache(tmp_path, {"p": 1}).load(sources={**sources, "hair/1.png": "cc"}) is None
    assert "its source files changed (hair/1.png)" in capsys.readouterr().out


def test_cache_without_recorded_sources_is_stale_when_they_are_known(tmp_path, capsys):
    ArrayCache(tmp_path, {"p": 1}).save({"a": np.arange(3)})
    assert ArrayCache(tmp_path, {"p": 1}).load(sources={"x": "aa"}) is None
    assert "does not record the source files" in capsys.readouterr().out


def test_unreadable_source_is_a_clear_error(tmp_path):
    import pytest

    from s3vae_tf.data.storage.cache import source_digests
    from s3vae_tf.errors import DataError

    (tmp_path / "a.png").write_bytes(b"x")
    assert source_digests({"a.png": tmp_path / "a.png"}) == {
        "a.png": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    }
    with pytest.raises(DataError, match="cannot read source file .*missing.png"):
        source_digests({"m": tmp_path / "missing.png"})
