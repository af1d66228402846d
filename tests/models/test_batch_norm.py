"""The fused training path normalises and tracks statistics exactly like Keras' BatchNormalization."""

from __future__ import annotations

import keras
import numpy as np

from s3vae_tf.models.batch_norm import SyncBatchNormalization


def test_fused_training_matches_keras():
    x = (np.random.default_rng(0).normal(size=(6, 5, 5, 4)) * 3 + 2).astype("float32")
    ours = SyncBatchNormalization(momentum=0.9, epsilon=1e-5)
    reference = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for layer in (ours, reference):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, 4).astype("float32"))
        layer.beta.assign(np.linspace(-1.0, 1.0, 4).astype("float32"))
    for _ in range(3):
        np.testing.assert_allclose(ours(x, training=True), reference(x, training=True), atol=1e-5)
    np.testing.assert_allclose(ours.moving_mean.numpy(), reference.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours(x, training=False), reference(x, training=False), atol=1e-5)


def test_config_round_trip():
    layer = SyncBatchNormalization(synchronized=False, name="bn")
    clone = SyncBatchNormalization.from_config(layer.get_config())
    assert clone.synchronized is False and clone.momentum == 0.9 and clone.epsilon == 1e-5
