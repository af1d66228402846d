"""The real test clips a trained run is evaluated on: its dataset's whole test split, read as it trained."""

from __future__ import annotations

import dataclasses

import numpy as np

from s3vae_tf.config import RunConfig
from s3vae_tf.data import registry


def test_split(config: RunConfig, data_dir: str = "") -> dict[str, np.ndarray]:
    """The test arrays (``frames``, ``static``, ``dynamic``, ...) of the run's dataset, without the run's
    clip caps; ``data_dir`` overrides where the prepared data lives (e.g. on another machine)."""
    data = dataclasses.replace(config.data, data_dir=data_dir or config.data.data_dir, max_train_clips=0, max_test_clips=0)
    return registry.load(config.dataset, data)["test"]


def data_root(config: RunConfig, data_dir: str = ""):
    """Where the run's prepared data (and the judges trained on it) live."""
    return registry.data_root(dataclasses.replace(config.data, data_dir=data_dir or config.data.data_dir))
