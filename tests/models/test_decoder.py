from __future__ import annotations

import numpy as np

from s3vae_tf.models.decoder import FrameDecoder


def test_shape_and_dtype():
    decoder = FrameDecoder(filters=8, channels=3)
    z = np.random.default_rng(0).normal(size=(6, 12)).astype("float32")
    logits = decoder(z)
    assert logits.shape == (6, 64, 64, 3) and logits.dtype == "float32"


def test_grey_frames_and_config_round_trip():
    decoder = FrameDecoder(filters=8, channels=1)
    z = np.ones((2, 5), "float32")
    out = decoder(z).numpy()
    assert out.shape == (2, 64, 64, 1)
    clone = FrameDecoder.from_config(decoder.get_config())
    clone.build((None, 5))
    clone.set_weights(decoder.get_weights())
    np.testing.assert_allclose(clone(z).numpy(), out, atol=1e-6)
