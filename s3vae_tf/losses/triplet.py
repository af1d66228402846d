"""Static consistency constraint (SCC): a triplet loss on z_f."""

from __future__ import annotations

import tensorflow as tf


def euclidean_distance(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Row-wise L2 distance; the floor keeps the gradient finite when the points coincide."""
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(a - b), axis=-1), 1e-12))


def triplet_hinge(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0, normalize: bool = False) -> tf.Tensor:
    """|a - p| - |a - n| + margin per row (B,): the triplet is active (gives a gradient) where it is > 0.

    ``normalize`` compares unit vectors (distances in [0, 2]): the margin then keeps its meaning however
    far the latent means spread during training.
    """
    if normalize:
        anchor, positive, negative = (tf.math.l2_normalize(v, axis=-1, epsilon=1e-12) for v in (anchor, positive, negative))
    return euclidean_distance(anchor, positive) - euclidean_distance(anchor, negative) + margin


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0, normalize: bool = False) -> tf.Tensor:
    """max(0, |a - p| - |a - n| + margin) per row: (B, D) x3 -> (B,).

    In S3VAE the anchor is z_f of a clip, the positive z_f of the same clip with its frames shuffled
    (same appearance, broken motion) and the negative z_f of another clip.
    """
    return tf.nn.relu(triplet_hinge(anchor, positive, negative, margin, normalize))
