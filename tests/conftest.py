"""Shared fixtures: where the shared test data lives, tiny model settings, a small real Sprites cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(os.environ.get("S3VAE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# A model small enough for a CPU test to run in well under a second per step, same topology as the paper's.
TINY_MODEL = dict(filters=8, conv_dim=16, hidden_dim=16, f_dim=8, z_dim=4, prior_hidden_dim=16, head_dim=8)

SPRITE_LABELS = {
    "static": [["skin", 6], ["pants", 6], ["top", 6], ["hair", 6]],
    "dynamic": [["action", 9]],
    "dfp_signal": "flow",
    "flow_grid": 3,
    "flow_bins": 8,
}


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data {path} is not available (set S3VAE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def lpc_dir() -> Path:
    return shared("lpc-sprites")


@pytest.fixture(scope="session")
def sprite_data_dir(tmp_path_factory, lpc_dir) -> Path:
    """A data dir whose Sprites cache holds real clips of a few characters (with real flow labels).

    It is written through the same cache the full preparation uses, so every loader and command reads it
    exactly as it would read the full 9000/2664-clip dataset.
    """
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data.datasets import sprites
    from s3vae_tf.data.storage.cache import source_digests
    from s3vae_tf.data.storage.preparation import flatten

    root = tmp_path_factory.mktemp("data")
    config = DataConfig(data_dir=str(root), lpc_dir=str(lpc_dir))
    train_chars, test_chars = sprites.split_characters()
    splits = sprites.build_splits(lpc_dir, config, train_chars[:8], test_chars[:4])
    sources = source_digests(sprites.source_files(config, root))
    sprites.cache_for(config, root).save(flatten(splits), sources)
    return root


def random_batch(batch: int, frames: int = 4, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """A synthetic batch with every key the pipeline yields (Sprites-shaped labels)."""
    rng = np.random.default_rng(seed)
    return {
        "frames": rng.random((batch, frames, 64, 64, 3)).astype(dtype),
        "positive_order": np.stack([rng.permutation(frames) for _ in range(batch)]).astype(np.int32),
        "flow_moving": rng.integers(0, 2, (batch, frames - 1, 9)).astype(np.uint8),
        "flow_direction": rng.integers(0, 8, (batch, frames - 1, 9)).astype(np.uint8),
        "static_labels": rng.integers(0, 6, (batch, 4)).astype(np.int32),
        "dynamic_labels": rng.integers(0, 9, (batch, frames, 1)).astype(np.int32),
        "partner_frames": rng.random((batch, frames, 64, 64, 3)).astype(dtype),
    }


def moving_squares(batch: int, frames: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Learnable clips: a coloured square (the clip's appearance) moving right by 4 px a frame."""
    out = random_batch(batch, frames, seed)
    rng = np.random.default_rng(seed)
    clips = np.zeros((batch, frames, 64, 64, 3), np.float32)
    for i in range(batch):
        colour, y = rng.random(3), int(rng.integers(8, 40))
        for t in range(frames):
            x = 8 + 4 * t + int(rng.integers(0, 2))
            clips[i, t, y : y + 16, x : x + 16] = colour
    out["frames"] = clips
    out["partner_frames"] = clips[:, ::-1].copy()  # the same square (appearance) moving the other way
    return out


@pytest.fixture(scope="session")
def tiny_run_dir(sprite_data_dir, tmp_path_factory) -> Path:
    """A trained (1 short epoch) tiny full-variant run on real Sprites clips: config, checkpoint, logs.

    For tests of everything that reads a run directory (evaluation, export, serving).
    """
    from s3vae_tf.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from s3vae_tf.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    config = RunConfig(
        model=ModelConfig(**TINY_MODEL),
        data=DataConfig(data_dir=str(sprite_data_dir)),
        train=TrainConfig(epochs=1, batch_size=8, steps_per_epoch=4, validation_steps=1, image_every=0, verbose=0),
    )
    train(config, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_export_dir(tiny_run_dir, tmp_path_factory) -> Path:
    """``python -m export`` of ``tiny_run_dir`` in every format (+ 4 sample GIFs), done once per session.

    Read-only for tests: copy it before changing anything. For tests of export and serving.
    """
    from export.exporter import ExportRequest, export_run

    out = tmp_path_factory.mktemp("exports") / "tiny"
    export_run(ExportRequest(run_dir=tiny_run_dir, out=out, samples=4), log=lambda message: None)
    return out


@pytest.fixture(scope="session")
def tiny_quantized_export_dir(tiny_run_dir, tmp_path_factory) -> Path:
    """``python -m export --formats onnx,tflite --quantize int8,fp16 --samples 0`` of ``tiny_run_dir``: the
    float ONNX and TFLite models and their quantised versions (calibrated on the run's training clips)."""
    from export.exporter import ExportRequest, export_run

    out = tmp_path_factory.mktemp("exports") / "tiny-quantized"
    request = ExportRequest(run_dir=tiny_run_dir, out=out, formats=("onnx", "tflite"), samples=0, quantize=("int8", "fp16"))
    export_run(request, log=lambda message: None)
    return out


@pytest.fixture(scope="session")
def tiny_judge_path(sprite_data_dir, tmp_path_factory) -> Path:
    from s3vae_tf.judge import entry
    from tests.evaluation.conftest import tiny_judge_flags

    out = tmp_path_factory.mktemp("judges") / "sprite.keras"
    assert entry(tiny_judge_flags(sprite_data_dir, out)) == 0
    return out
