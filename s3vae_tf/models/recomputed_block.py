"""BatchNorm -> activation -> convolution, with the first two recomputed in the backward pass.

In a DCGAN conv stack backprop keeps, per layer, the convolution's output (BatchNorm's gradient reads it)
and the activation's output (the next convolution's kernel gradient reads it). Recomputing normalisation
and activation from the convolution output when the gradient arrives costs a few elementwise passes and
frees the activation output right after the forward pass (what that saves in a full training step is in
README, "Training speed"). Values and gradients are those of the plain composition.
"""

from __future__ import annotations

import tensorflow as tf

from s3vae_tf.models.batch_norm import SyncBatchNormalization


def normalize_activate_convolve(inputs: tf.Tensor, norm: SyncBatchNormalization, activation, conv) -> tf.Tensor:
    """``conv(activation(norm(inputs, training=True)))``; ``norm``'s moving statistics are updated once.

    ``norm`` must be fusable for ``inputs`` (one replica, see ``SyncBatchNormalization.fusable``).
    """

    @tf.custom_gradient
    def block(x):
        normalized, mean, variance = norm.fused_normalize(x)
        outputs = conv(activation(normalized))

        def backward(d_outputs, d_mean, d_variance, variables=None):
            # Depending on the incoming gradient keeps grappler from merging the recomputation with the
            # forward ops (common subexpression elimination), which would keep the forward tensors alive.
            # The convolution is re-run only symbolically: its gradients read its inputs, not its output,
            # so the graph prunes the forward convolution itself.
            with tf.control_dependencies([d_outputs]):
                x_again = tf.identity(x)
            with tf.GradientTape() as tape:
                tape.watch(x_again)
                again = conv(activation(norm.fused_normalize(x_again)[0]))
            grads = tape.gradient(again, [x_again, *variables], output_gradients=d_outputs)
            return grads[0], grads[1:]

        return (outputs, mean, variance), backward

    outputs, mean, variance = block(inputs)
    norm.update_moving(mean, variance)
    return outputs
