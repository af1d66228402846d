"""Frame encoder: a DCGAN-64 conv net mapping each 64x64 frame to a feature vector."""

from __future__ import annotations

import keras
from keras import layers

from s3vae_tf.models.batch_norm import batch_norm
from s3vae_tf.models.lean_backward import lean_forward


@keras.saving.register_keras_serializable("s3vae_tf")
class FrameEncoder(keras.layers.Layer):
    """(N, 64, 64, C) frames -> (N, out_dim) features in [-1, 1].

    Four 4x4 stride-2 convolutions (filters x 1, 2, 4, 8) with BatchNorm and LeakyReLU(0.2), then a 4x4
    valid convolution to ``out_dim`` with BatchNorm and tanh, as in the original DCGAN-64 encoder.
    ``lean_backward`` trains the same net through :func:`s3vae_tf.models.lean_backward.lean_forward` (same
    values and gradients, less memory held during backprop).
    """

    def __init__(self, filters: int = 64, out_dim: int = 128, synchronized_bn: bool = True, lean_backward: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.out_dim, self.synchronized_bn, self.lean_backward = filters, out_dim, synchronized_bn, lean_backward
        stack = []
        for i, mult in enumerate((1, 2, 4, 8)):
            stack += [
                layers.Conv2D(filters * mult, 4, strides=2, padding="same", use_bias=False, name=f"conv{i + 1}"),
                batch_norm(synchronized_bn, f"bn{i + 1}"),
                layers.LeakyReLU(0.2),
            ]
        stack += [
            layers.Conv2D(out_dim, 4, strides=1, padding="valid", use_bias=False, name="conv5"),
            batch_norm(synchronized_bn, "bn5"),
            layers.Activation("tanh"),
            layers.Flatten(),
        ]
        self.net = keras.Sequential(stack, name="net")

    def build(self, input_shape):
        self.net.build(tuple(input_shape))

    def call(self, frames, training: bool = False):
        if training and self.lean_backward:
            return lean_forward(self.net.layers, frames)
        return self.net(frames, training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.out_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "out_dim": self.out_dim,
            "synchronized_bn": self.synchronized_bn,
            "lean_backward": self.lean_backward,
        }
