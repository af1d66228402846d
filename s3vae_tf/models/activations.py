"""LeakyReLU whose training-time gradient reads its output, so backprop need not keep its input."""

from __future__ import annotations

import keras
import tensorflow as tf


def leaky_relu_output_gradient(inputs: tf.Tensor, negative_slope: float) -> tf.Tensor:
    """``tf.nn.leaky_relu`` with the same values and gradients, computed from the output.

    TensorFlow's gradient of leaky_relu reads the op's input. For a slope >= 0 the output is positive
    exactly where the input is, so the gradient from the output is identical, and the input (in the conv
    nets a BatchNorm output as large as the feature map) can be freed once the forward pass has used it.
    """

    @tf.custom_gradient
    def forward(x):
        outputs = tf.nn.leaky_relu(x, negative_slope)

        def backward(d_outputs):
            return tf.raw_ops.LeakyReluGrad(gradients=d_outputs, features=outputs, alpha=negative_slope)

        return outputs, backward

    return forward(inputs)


@keras.saving.register_keras_serializable("s3vae_tf")
class LeakyReLU(keras.layers.LeakyReLU):
    """``keras.layers.LeakyReLU`` that, with ``output_gradient``, keeps less for backprop when training.

    Inference (and so every export) runs the plain op. The nets now use plain ``keras.layers.LeakyReLU`` (the
    saving lives in :mod:`s3vae_tf.models.lean_backward`); this class stays so judges saved before load.
    """

    def __init__(self, negative_slope: float = 0.3, output_gradient: bool = True, **kwargs):
        super().__init__(negative_slope=negative_slope, **kwargs)
        self.output_gradient = output_gradient

    def call(self, inputs, training=None):
        if training and self.output_gradient:
            return leaky_relu_output_gradient(inputs, self.negative_slope)
        return super().call(inputs)

    def get_config(self):
        return {**super().get_config(), "output_gradient": self.output_gradient}
