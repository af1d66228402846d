"""load_trained restores every weight through the model alone (no optimizer), the prior and heads included.

Keras 3 layers held in a Python list are invisible to tf.train.Checkpoint; the model keeps such layers one
per attribute, and this test fails if any weight is left at its random initial value.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s3vae_tf.run_directory import build_model, load_trained


def _weights(model) -> list[tuple[str, np.ndarray]]:
    return [(v.path, v.numpy()) for v in model.variables if "seed_generator" not in v.path]


def test_every_weight_comes_from_the_checkpoint(tiny_run_dir):
    config, spec, model, _ = load_trained(tiny_run_dir)
    again = load_trained(tiny_run_dir)[2]  # a second build starts from other random weights
    fresh = build_model(config, spec)
    loaded, reloaded, random = _weights(model), _weights(again), _weights(fresh)
    assert len(loaded) == len(reloaded) == len(random)
    for (path, a), (_, b), (_, r) in zip(loaded, reloaded, random):
        np.testing.assert_array_equal(a, b, err_msg=path)
        if path.endswith("kernel"):
            assert not np.array_equal(a, r), f"{path} kept its initial value"
    assert any("prior/lstm2" in path for path, _ in loaded)
    noise = tf.random.stateless_normal((2, model.frames, model.model_config.z_dim), seed=[0, 1])
    np.testing.assert_array_equal(model.prior.sample(noise)[0], again.prior.sample(noise)[0])
