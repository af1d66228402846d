"""`python -m s3vae_tf.data.prepare`: prepares once with a progress bar, rebuilds bad caches, fails in one line."""

from __future__ import annotations

import json

import numpy as np

from s3vae_tf.data.datasets import mnist
from s3vae_tf.data.prepare import entry

SMALL = ["--train-clips", "6", "--test-clips", "2"]


def test_prepares_once_then_reads_the_cache(tmp_path, capfd):
    flags = ["--dataset", "dsprites", "--data-dir", str(tmp_path), *SMALL]
    assert entry(flags) == 0
    out, err = capfd.readouterr()
    assert "preparing dSprites sequences" in out
    assert "dsprites train: " in out and "frames (6, 8, 64, 64, 3)" in out and "flow_moving (6, 7, 9)" in out
    assert "dsprites test: " in out and "frames (2, 8, 64, 64, 3)" in out
    assert "dSprites clips (train): [" in err and "flow labels (test): [" in err  # progress bars
    manifest = json.loads((tmp_path / "dsprites-6-2-seed0" / "manifest.json").read_text())
    assert manifest["params"]["clips"] == {"train": 6, "test": 2} and "sha256" in manifest["arrays"]["train_frames"]

    assert entry(flags) == 0
    out, err = capfd.readouterr()
    assert "preparing" not in out and "dsprites train: " in out and "[" not in err


def test_stale_or_corrupt_cache_is_rebuilt(tmp_path, capfd):
    flags = ["--dataset", "dsprites", "--data-dir", str(tmp_path), *SMALL]
    assert entry(flags) == 0
    directory = tmp_path / "dsprites-6-2-seed0"
    before = np.load(directory / "train_frames.npy")
    capfd.readouterr()

    damaged = directory / "train_frames.npy"
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert entry(flags) == 0
    out, _ = capfd.readouterr()
    assert "stale or corrupt: train_frames.npy does not match its checksum; rebuilding it" in out
    np.testing.assert_array_equal(np.load(damaged), before)  # rebuilt identically (deterministic per seed)

    assert entry([*flags, "--flow-threshold", "0.7"]) == 0
    out, _ = capfd.readouterr()
    assert "prepared with other parameters; rebuilding it" in out and "preparing dSprites" in out


def _one_line_error(capfd, argv) -> str:
    code = entry(argv)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m s3vae_tf.data.prepare: error: ")
    return lines[0]


def test_bad_input_is_one_line(tmp_path, capfd, monkeypatch):
    for name in ("S3VAE_MNIST_DIR", "S3VAE_MUG_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = ["--data-dir", str(tmp_path)]
    assert "unknown dataset 'moving'" in _one_line_error(capfd, ["--dataset", "moving", *data])
    assert "the following arguments are required: --dataset" in _one_line_error(capfd, data)
    assert "invalid int value" in _one_line_error(capfd, ["--dataset", "dsprites", "--train-clips", "many"])
    assert "--train-clips must not be negative" in _one_line_error(capfd, ["--dataset", "dsprites", "--train-clips", "-1", *data])
    line = _one_line_error(capfd, ["--dataset", "mug", *data])
    assert "mug.ee.auth.gr" in line and "--mug-dir" in line
    assert not (tmp_path / "mug").exists(), "a failed first preparation leaves no empty cache folder"
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    line = _one_line_error(capfd, ["--dataset", "smmnist", *data, *SMALL])
    assert "cannot download" in line and "--mnist-dir" in line
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert "cannot write prepared data" in _one_line_error(capfd, ["--dataset", "dsprites", "--data-dir", str(blocker), *SMALL])


def test_smmnist_from_the_reconstructed_file(tmp_path, capfd):
    from tests.conftest import shared

    directory = shared("mnist")
    flags = ["--dataset", "smmnist", "--data-dir", str(tmp_path), "--mnist-dir", str(directory), *SMALL]
    assert "--mnist-train-images" in _one_line_error(capfd, flags)
    approx = directory / "train-images-idx3-ubyte.approx.gz"
    assert entry([*flags, "--mnist-train-images", str(approx)]) == 0
    out, err = capfd.readouterr()
    assert "smmnist train: " in out and "frames (6, 15, 64, 64, 1)" in out and "moving digits (train): [" in err
    params = json.loads((tmp_path / "smmnist-6-2-seed0" / "manifest.json").read_text())["params"]
    assert params["train_images"].startswith("sha256:")


def test_registry_describes_all_four_datasets():
    import subprocess
    import sys

    # importing one dataset module first must not hide the others (each module registers itself)
    code = "from s3vae_tf.data.datasets import mug; from s3vae_tf.data import registry; print(','.join(registry.names()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "dsprites,mug,smmnist,sprite"
    from s3vae_tf.data import registry

    expected = {
        "sprite": (8, 3, "flow", (("skin", 6), ("pants", 6), ("top", 6), ("hair", 6)), (("action", 9),)),
        "smmnist": (15, 1, "flow", (("digit_1", 10), ("digit_2", 10)), (("direction_1", 8), ("direction_2", 8))),
        "dsprites": (8, 3, "flow", (("shape", 3), ("scale", 6), ("colour", 6)), (("direction", 8), ("rotation", 3))),
        "mug": (15, 3, "landmarks", (("subject", 86),), (("expression", 6),)),
    }
    for name, (frames, channels, signal, static, dynamic) in expected.items():
        spec = registry.get(name)
        assert (spec.frames, spec.frame_size, spec.channels, spec.dfp_signal) == (frames, 64, channels, signal)
        assert spec.static_heads == static and spec.dynamic_heads == dynamic
        assert spec.source and spec.licence
