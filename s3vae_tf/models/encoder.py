"""Frame encoder: a DCGAN-64 conv net mapping each 64x64 frame to a feature vector."""

from __future__ import annotations

import keras
from keras import layers

from s3vae_tf.models.activations import LeakyReLU
from s3vae_tf.models.batch_norm import SyncBatchNormalization
from s3vae_tf.models.recomputed_block import normalize_activate_convolve


def batch_norm(synchronized: bool, name: str) -> SyncBatchNormalization:
    """BatchNorm with PyTorch's defaults (momentum 0.1 there is 0.9 here, eps 1e-5)."""
    return SyncBatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized, name=name)


@keras.saving.register_keras_serializable("s3vae_tf")
class FrameEncoder(keras.layers.Layer):
    """(N, 64, 64, C) frames -> (N, out_dim) features in [-1, 1].

    Four 4x4 stride-2 convolutions (filters x 1, 2, 4, 8) with BatchNorm and LeakyReLU(0.2), then a 4x4
    valid convolution to ``out_dim`` with BatchNorm and tanh, as in the original DCGAN-64 encoder.

    With ``lean_backward``, training on one replica runs each BatchNorm -> LeakyReLU -> next convolution
    as one block that recomputes the first two in the backward pass (``recomputed_block``): same values
    and gradients, less memory held during backprop.
    """

    def __init__(self, filters: int = 64, out_dim: int = 128, synchronized_bn: bool = True, lean_backward: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.out_dim, self.synchronized_bn, self.lean_backward = filters, out_dim, synchronized_bn, lean_backward
        stack = []
        for i, mult in enumerate((1, 2, 4, 8)):
            stack += [
                layers.Conv2D(filters * mult, 4, strides=2, padding="same", use_bias=False, name=f"conv{i + 1}"),
                batch_norm(synchronized_bn, f"bn{i + 1}"),
                LeakyReLU(0.2, output_gradient=lean_backward),
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
        stack = self.net.layers  # conv1, (bn, activation, conv) x 4, bn5, tanh, flatten
        if not (training and self.lean_backward):
            return self.net(frames, training=training)
        x = stack[0](frames)
        if stack[1].fusable(x, training):
            for start in range(1, 13, 3):
                x = normalize_activate_convolve(x, *stack[start : start + 3])
            rest = stack[13:]
        else:
            rest = stack[1:]
        for layer in rest:
            x = layer(x, training=training)
        return x

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
