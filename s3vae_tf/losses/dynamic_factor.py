"""Dynamic factor prediction (DFP): z_t must predict cheap per-frame motion labels."""

from __future__ import annotations

import tensorflow as tf


def flow_grid_loss(
    moving_logits: tf.Tensor, direction_logits: tf.Tensor, moving: tf.Tensor, direction: tf.Tensor, reduction: str = "sum"
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per clip: (BCE of the "moves" bits, cross-entropy of the direction bins on moving cells).

    moving_logits, moving: (B, P, K) for P frame pairs and K grid cells; direction_logits (B, P, K, bins),
    direction (B, P, K) integer bins. ``reduction`` "sum" sums both over pairs and cells; "mean" (the
    original code's) averages them over the P x K pair-cells, so the terms are P x K times smaller.
    """
    moving = tf.cast(moving, moving_logits.dtype)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=moving, logits=moving_logits)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(direction, tf.int32), logits=direction_logits)
    reduce = {"sum": tf.reduce_sum, "mean": tf.reduce_mean}[reduction]
    return reduce(bce, axis=[1, 2]), reduce(ce * moving, axis=[1, 2])


def landmark_loss(predicted: tf.Tensor, target: tf.Tensor, reduction: str = "sum") -> tf.Tensor:
    """Squared error of predicted landmark distances (B, T, 3) (eyelids, lips), summed (or averaged) per clip."""
    reduce = {"sum": tf.reduce_sum, "mean": tf.reduce_mean}[reduction]
    return reduce(tf.square(predicted - tf.cast(target, predicted.dtype)), axis=[1, 2])
