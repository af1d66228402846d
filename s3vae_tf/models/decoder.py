"""Frame decoder: DCGAN-64 transposed convolutions from a latent vector to 64x64 frame logits."""

from __future__ import annotations

import keras
from keras import layers, ops

from s3vae_tf.models.batch_norm import batch_norm
from s3vae_tf.models.lean_backward import lean_forward


@keras.saving.register_keras_serializable("s3vae_tf")
class FrameDecoder(keras.layers.Layer):
    """(N, D) latents -> (N, 64, 64, C) logits; ``sigmoid(logits)`` is the frame.

    A 4x4 valid transposed convolution to 4x4 x (filters x 8), three 4x4 stride-2 transposed convolutions
    halving the width (BatchNorm, LeakyReLU(0.2)), and a last stride-2 one to ``channels``. The logits are
    returned in full precision (floatx) so losses stay exact under mixed precision. ``lean_backward`` trains it
    through :func:`s3vae_tf.models.lean_backward.lean_forward` without recomputed blocks: the activations'
    gradients read their outputs, so backprop need not keep the BatchNorm outputs.
    """

    def __init__(self, filters: int = 64, channels: int = 3, synchronized_bn: bool = True, lean_backward: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.channels, self.synchronized_bn, self.lean_backward = filters, channels, synchronized_bn, lean_backward
        stack = [layers.Reshape((1, 1, -1))]
        for i, mult in enumerate((8, 4, 2, 1)):
            first = i == 0
            stack += [
                layers.Conv2DTranspose(
                    filters * mult, 4, strides=1 if first else 2, padding="valid" if first else "same", use_bias=False, name=f"deconv{i + 1}"
                ),
                batch_norm(synchronized_bn, f"bn{i + 1}"),
                layers.LeakyReLU(0.2),
            ]
        stack.append(layers.Conv2DTranspose(channels, 4, strides=2, padding="same", name="deconv5"))
        self.net = keras.Sequential(stack, name="net")

    def build(self, input_shape):
        self.net.build(tuple(input_shape))

    def call(self, latents, training: bool = False):
        if training and self.lean_backward:
            logits = lean_forward(self.net.layers, latents, recompute=False)
        else:
            logits = self.net(latents, training=training)
        return ops.cast(logits, keras.config.floatx())

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 64, 64, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "channels": self.channels,
            "synchronized_bn": self.synchronized_bn,
            "lean_backward": self.lean_backward,
        }
