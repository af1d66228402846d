"""Ground-truth supervision for the baseline-sv variant: labels instead of self-supervision."""

from __future__ import annotations

import tensorflow as tf


def classification_loss(logits: dict[str, tf.Tensor], labels: tf.Tensor) -> tf.Tensor:
    """Cross-entropy summed over heads (labels[..., i] is head i's class) and any time axis: -> (B,)."""
    total = 0.0
    for i, head_logits in enumerate(logits.values()):
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., i], logits=head_logits)
        total += tf.reduce_sum(tf.reshape(ce, [tf.shape(ce)[0], -1]), axis=1)
    return total
