"""Where source files come from: the flag, else the environment variable, else nothing (the cache)."""

from __future__ import annotations

import pytest

from s3vae_tf.data.storage.sources import given, given_path
from s3vae_tf.errors import DataError


def test_the_flag_wins_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("S3VAE_TEST_DIR", str(tmp_path))
    assert given("flag", "S3VAE_TEST_DIR") == "flag" and given("", "S3VAE_TEST_DIR") == str(tmp_path)
    assert given_path("", "S3VAE_TEST_DIR", "test directory", "--test-dir") == tmp_path
    monkeypatch.delenv("S3VAE_TEST_DIR")
    assert given("", "S3VAE_TEST_DIR") == "" and given_path("", "S3VAE_TEST_DIR", "test directory", "--test-dir") is None


def test_a_named_path_that_is_missing_says_where_it_came_from(tmp_path):
    with pytest.raises(DataError, match=r"test directory .*nope does not exist \(from --test-dir / S3VAE_TEST_DIR\)"):
        given_path(str(tmp_path / "nope"), "S3VAE_TEST_DIR", "test directory", "--test-dir")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="does not exist"):
        given_path(str(tmp_path / "file"), "S3VAE_TEST_DIR", "test directory", "--test-dir")  # a file, not a directory
    assert given_path(str(tmp_path / "file"), "S3VAE_TEST_DIR", "model", "--model", kind="file") == tmp_path / "file"
