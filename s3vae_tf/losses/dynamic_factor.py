"""Dynamic factor prediction (DFP): z_t must predict cheap per-frame motion labels."""

from __future__ import annotations

import tensorflow as tf


def flow_grid_loss(
    moving_logits: tf.Tensor, direction_logits: tf.Tensor, moving: tf.Tensor, direction: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per clip: (BCE of the "moves" bits, cross-entropy of the direction bins on moving cells).

    moving_logits, moving: (B, P, K) for P frame pairs and K grid cells; direction_logits (B, P, K, bins),
    direction (B, P, K) integer bins. Both losses are summed over pairs and cells.
    """
    moving = tf.cast(moving, moving_logits.dtype)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=moving, logits=moving_logits)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(direction, tf.int32), logits=direction_logits)
    return tf.reduce_sum(bce, axis=[1, 2]), tf.reduce_sum(ce * moving, axis=[1, 2])


def landmark_loss(predicted: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Squared error of predicted landmark distances (B, T, 3) (eyelids, lips), summed per clip."""
    return tf.reduce_sum(tf.square(predicted - tf.cast(target, predicted.dtype)), axis=[1, 2])
