"""A few training steps of the tiny model on a prepared dataset (in-process: TensorFlow is already loaded)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tests.conftest import TINY_MODEL


def train_tiny(dataset: str, data, run_dir: Path, batch_size: int = 4, steps: int = 2) -> dict[str, float]:
    """Train ``steps`` steps (and validate one batch) on ``dataset`` with DataConfig ``data``; the logged row."""
    from s3vae_tf.config import ModelConfig, RunConfig, TrainConfig
    from s3vae_tf.train import train

    config = RunConfig(
        dataset=dataset,
        model=ModelConfig(**TINY_MODEL),
        data=data,
        train=TrainConfig(
            epochs=1, batch_size=batch_size, steps_per_epoch=steps, validation_steps=1, image_every=0, verbose=0
        ),
    )
    train(config, run_dir)
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert len(rows) == 1
    values = {k: float(v) for k, v in rows[0].items()}
    assert all(np.isfinite(v) for v in values.values()), values
    return values
