"""BatchNormalization whose batch statistics are exact over replicas.

Keras' ``synchronized=True`` computes the variance as E[x^2] - E[x]^2 from all-reduced sums, which
cancels catastrophically in float32 when a channel's mean is large next to its spread (common right
after the encoder's last convolution on sprite frames). Here the mean is all-reduced first and the
variance is the all-reduced sum of squared deviations from it, as ``tf.nn.moments`` does on one device.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable("s3vae_tf")
class SyncBatchNormalization(keras.layers.BatchNormalization):
    """BatchNorm with two-pass, replica-exact batch statistics when ``synchronized`` (PyTorch defaults)."""

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, synchronized: bool = True, **kwargs):
        super().__init__(momentum=momentum, epsilon=epsilon, synchronized=synchronized, **kwargs)

    def _moments(self, inputs, mask):
        ctx = tf.distribute.get_replica_context()
        if mask is not None or not self.synchronized or ctx is None or ctx.num_replicas_in_sync == 1:
            return ops.moments(inputs, axes=self._reduction_axes)
        axes = self._reduction_axes
        count = ctx.all_reduce("sum", tf.reduce_sum(tf.ones_like(inputs), axis=axes, keepdims=True))
        mean = ctx.all_reduce("sum", tf.reduce_sum(inputs, axis=axes, keepdims=True)) / count
        deviation = inputs - tf.stop_gradient(mean)  # d var / d mean = 0 at the mean (as tf.nn.moments)
        variance = ctx.all_reduce("sum", tf.reduce_sum(tf.square(deviation), axis=axes, keepdims=True)) / count
        return tf.squeeze(mean, axes), tf.squeeze(variance, axes)
