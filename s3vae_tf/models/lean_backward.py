"""``lean_backward``: the conv nets' training forward pass, keeping less memory for backprop (one seam).

:func:`lean_forward` runs a plain layer stack (the DCGAN encoder or decoder) in training mode with the same
values and gradients, and two savings: each LeakyReLU's gradient reads its output instead of its input
(:func:`s3vae_tf.models.activations.leaky_relu_output_gradient`), and, with ``recompute``, each BatchNorm ->
activation -> convolution runs as one block that recomputes the first two in the backward pass
(:func:`normalize_activate_convolve`). The layers themselves stay the plain ones; inference and every export
never come here.

In a DCGAN conv stack backprop keeps, per layer, the convolution's output (BatchNorm's gradient reads it)
and the activation's output (the next convolution's kernel gradient reads it). Recomputing normalisation
and activation from the convolution output when the gradient arrives costs a few elementwise passes and
frees the activation output right after the forward pass (what that saves in a full training step is in
README, "Training speed"). Values and gradients are those of the plain composition.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
from keras import layers

from s3vae_tf.models.activations import leaky_relu_output_gradient
from s3vae_tf.models.batch_norm import SyncBatchNormalization

CONVOLUTIONS = (layers.Conv2D, layers.Conv2DTranspose)


def lean_forward(stack: Sequence[keras.layers.Layer], x: tf.Tensor, recompute: bool = True) -> tf.Tensor:
    """``stack`` applied to ``x`` in training mode, as a Sequential of those layers would, holding less for
    backprop: LeakyReLUs with output gradients, and (``recompute``) each fusable BatchNorm -> LeakyReLU ->
    convolution as a block recomputed in the backward pass. Which layers form a block is read from their
    types, so any DCGAN-like stack qualifies."""
    i = 0
    while i < len(stack):
        layer = stack[i]
        block = stack[i : i + 3]
        if (recompute and len(block) == 3 and isinstance(block[0], SyncBatchNormalization) and block[0].fusable(x, True)
                and isinstance(block[1], layers.LeakyReLU) and isinstance(block[2], CONVOLUTIONS)):
            x = normalize_activate_convolve(x, *block)
            i += 3
            continue
        if isinstance(layer, layers.LeakyReLU):
            x = leaky_relu_output_gradient(x, layer.negative_slope)
        else:
            x = layer(x, training=True)
        i += 1
    return x


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
