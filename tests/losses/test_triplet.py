from __future__ import annotations

import numpy as np
import tensorflow as tf

from s3vae_tf.losses.triplet import triplet_loss


def test_hand_made_points():
    anchor = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]], np.float32)
    positive = np.array([[0.0, 1.0], [3.0, 4.0], [1.0, 1.0]], np.float32)
    negative = np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 1.5]], np.float32)
    loss = triplet_loss(anchor, positive, negative, margin=1.0).numpy()
    # |a-p| - |a-n| + 1: 1 - 5 + 1 -> 0;  5 - 1 + 1 = 5;  0 - 0.5 + 1 = 0.5
    np.testing.assert_allclose(loss, [0.0, 5.0, 0.5], atol=1e-6)


def test_gradient_finite_when_anchor_equals_positive():
    a = tf.Variable([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        loss = triplet_loss(a, tf.constant([[1.0, 2.0]]), tf.constant([[1.0, 2.5]]), margin=1.0)
    grad = tape.gradient(loss, a).numpy()
    assert np.all(np.isfinite(grad))
