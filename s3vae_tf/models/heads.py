"""Small prediction heads on the latents: DFP (z_t -> flow grid / landmark distances), supervised labels."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable("s3vae_tf")
class PredictionHead(keras.layers.Layer):
    """A one-hidden-layer MLP with one linear output per named target: x (..., D) -> {name: (..., units)}.

    The hidden layer lets the head read non-linear structure in the latent, while the latent still has
    to carry the information: the head is small (``hidden_dim`` units) and shared over time steps.
    """

    def __init__(self, outputs: list[list], hidden_dim: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.outputs = [[str(name), int(units)] for name, units in outputs]
        self.hidden_dim = hidden_dim
        self.hidden = layers.Dense(hidden_dim, activation="relu", name="hidden")
        # One attribute per output: tf.train.Checkpoint does not see layers held in a Python list (Keras 3).
        for name, units in self.outputs:
            setattr(self, f"out_{name}", layers.Dense(units, dtype=keras.config.floatx(), name=name))

    @property
    def heads(self) -> list[layers.Dense]:
        return [getattr(self, f"out_{name}") for name, _ in self.outputs]

    def build(self, input_shape):
        self.hidden.build(input_shape)
        for head in self.heads:
            head.build((*input_shape[:-1], self.hidden_dim))

    def call(self, x):
        h = self.hidden(x)
        return {name: head(h) for (name, _), head in zip(self.outputs, self.heads)}

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs, "hidden_dim": self.hidden_dim}


@tf.custom_gradient
def _reversed(x, scale):
    def grad(upstream):
        return -scale * upstream, tf.zeros_like(scale)

    return tf.identity(x), grad


def reverse_gradient(x: tf.Tensor, scale: float = 1.0) -> tf.Tensor:
    """Identity forward; multiplies the gradient by ``-scale`` backward (Ganin & Lempitsky 2015).

    A head on ``reverse_gradient(latent)`` learns to predict its target while the layers below the latent
    are pushed to make that prediction fail.
    """
    return _reversed(x, tf.constant(scale, x.dtype))
