from __future__ import annotations

import keras
import numpy as np

from s3vae_tf.models.encoder import FrameEncoder


def test_shape_range_and_config():
    encoder = FrameEncoder(filters=8, out_dim=16)
    x = np.random.default_rng(0).random((5, 64, 64, 3)).astype("float32")
    y = encoder(x, training=True).numpy()
    assert y.shape == (5, 16)
    assert np.all(np.abs(y) <= 1.0), "tanh output"
    clone = FrameEncoder.from_config(encoder.get_config())
    clone.build((None, 64, 64, 3))
    clone.set_weights(encoder.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), encoder(x).numpy(), atol=1e-6)


def test_paper_widths():
    encoder = FrameEncoder(filters=64, out_dim=128)
    encoder.build((None, 64, 64, 3))
    kernels = [v.shape for v in encoder.trainable_variables if len(v.shape) == 4]
    assert [k[-1] for k in kernels] == [64, 128, 256, 512, 128]
    assert all(k[:2] == (4, 4) for k in kernels)
