"""Fixtures of the export tests: the trained tiny model, real Sprites test clips, inputs per signature."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def trained_model(tiny_run_dir):
    """The tiny run's model as trained (recurrent layers not unrolled), for eager reference outputs."""
    from s3vae_tf.run_directory import load_trained

    return load_trained(tiny_run_dir)[2]


@pytest.fixture(scope="session")
def real_clips(sprite_data_dir) -> np.ndarray:
    """Eight real Sprites test clips, float32 (8, 8, 64, 64, 3) in [0, 255/256]."""
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry

    test = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))["test"]
    index = np.linspace(0, len(test["frames"]) - 1, 8).round().astype(int)
    return test["frames"][index].astype(np.float32) / 256.0


@pytest.fixture(scope="session")
def deterministic_feeds(real_clips, trained_model) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of encode, decode and swap from real clips; decode gets the clips' posterior means and N(0, I) rows."""
    latents = trained_model.encode(real_clips[:3])
    rng = np.random.default_rng(0)
    z_f = np.concatenate([latents["f_mean"], rng.standard_normal((2, latents["f_mean"].shape[1]))]).astype(np.float32)
    z_t = np.concatenate([latents["z_mean"], rng.standard_normal((2, *latents["z_mean"].shape[1:]))]).astype(np.float32)
    return {
        "encode": {"frames": real_clips[:3]},
        "decode": {"z_f": z_f, "z_t": z_t},
        "swap": {"clip_a": real_clips[:3], "clip_b": real_clips[3:6]},
    }
