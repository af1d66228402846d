"""Static consistency constraint (SCC): a triplet loss on z_f."""

from __future__ import annotations

import tensorflow as tf


def euclidean_distance(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Row-wise L2 distance; the floor keeps the gradient finite when the points coincide."""
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(a - b), axis=-1), 1e-12))


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """max(0, |a - p| - |a - n| + margin) per row: (B, D) x3 -> (B,).

    In S3VAE the anchor is z_f of a clip, the positive z_f of the same clip with its frames shuffled
    (same appearance, broken motion) and the negative z_f of another clip.
    """
    return tf.nn.relu(euclidean_distance(anchor, positive) - euclidean_distance(anchor, negative) + margin)
