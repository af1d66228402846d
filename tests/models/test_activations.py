from __future__ import annotations

import numpy as np
import tensorflow as tf

from s3vae_tf.models.activations import LeakyReLU, leaky_relu_output_gradient


def test_values_and_gradients_match_leaky_relu():
    x = tf.constant(np.concatenate([np.random.default_rng(0).normal(size=200), [0.0, -0.0, 1e-30, -1e-30]]).astype("float32"))
    upstream = tf.constant(np.random.default_rng(1).normal(size=204).astype("float32"))

    @tf.function
    def value_and_grad(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return y, tape.gradient(y, x, output_gradients=upstream)

    ours = value_and_grad(lambda v: leaky_relu_output_gradient(v, 0.2))
    reference = value_and_grad(lambda v: tf.nn.leaky_relu(v, 0.2))
    np.testing.assert_array_equal(ours[0], reference[0])
    np.testing.assert_array_equal(ours[1], reference[1])


def test_backward_reads_the_output_not_the_input():
    x = tf.TensorSpec((4, 8), tf.float32)

    @tf.function(input_signature=[x])
    def grad(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            pre = v * 3.0
            y = leaky_relu_output_gradient(pre, 0.2)
        return tape.gradient(y, v)

    graph = grad.get_concrete_function().graph
    (op,) = [op for op in graph.get_operations() if op.type == "LeakyReluGrad"]
    features = op.inputs[1]
    assert features.op.type != "Mul", "the gradient reads the pre-activation, which then stays alive"
    assert "LeakyRelu" in {features.op.type, *(i.op.type for i in features.op.inputs)}


def test_layer_inference_is_the_plain_op_and_config_round_trips():
    layer = LeakyReLU(0.2)
    x = np.linspace(-2, 2, 9).astype("float32")
    np.testing.assert_array_equal(layer(x, training=True), layer(x))
    np.testing.assert_array_equal(layer(x), tf.nn.leaky_relu(x, 0.2))
    assert LeakyReLU.from_config(layer.get_config()).negative_slope == 0.2
