"""Transposed convolutions rewritten as convolutions compute the same outputs, in onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.onnx_rewrite import transposed_as_convolutions
from tests.export.runners import metadata


def _model(x_shape, weight, bias=None, **attributes) -> onnx.ModelProto:
    inputs = ["x", "w"] + (["b"] if bias is not None else [])
    inits = [numpy_helper.from_array(weight, "w")] + ([numpy_helper.from_array(bias, "b")] if bias is not None else [])
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", inputs, ["y"], name="deconv", **attributes)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 4)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize(
    "kernel, stride, pad, with_bias",
    [(4, 2, 1, False), (4, 2, 1, True), (2, 2, 0, True), (6, 2, 2, False), (3, 3, 0, True)],
)
def test_phase_form_equals_the_transposed_convolution(kernel, stride, pad, with_bias):
    rng = np.random.default_rng(kernel * 10 + stride)
    weight = rng.standard_normal((5, 4, kernel, kernel)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32) if with_bias else None
    model = _model([2, 5, 6, 6], weight, bias, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4)
    rewritten, replaced = transposed_as_convolutions(model)
    assert replaced == ["deconv"]
    assert {n.op_type for n in rewritten.graph.node} == {"Conv", "Concat", "DepthToSpace"}
    onnx.checker.check_model(rewritten, full_check=True)
    x = rng.standard_normal((2, 5, 6, 6)).astype(np.float32)
    expected = _run(model, x)
    assert expected.shape == (2, 4, 6 * stride, 6 * stride)
    np.testing.assert_allclose(_run(rewritten, x), expected, atol=1e-4, rtol=1e-5)


def test_one_pixel_input_becomes_a_matrix_product():
    rng = np.random.default_rng(1)
    weight, bias = rng.standard_normal((7, 3, 4, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    model = _model([None, 7, 1, 1], weight, bias, kernel_shape=[4, 4])
    rewritten, replaced = transposed_as_convolutions(model)
    assert replaced == ["deconv"] and [n.op_type for n in rewritten.graph.node] == ["Conv", "Reshape"]
    x = rng.standard_normal((3, 7, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(_run(rewritten, x), _run(model, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "attributes",
    [
        {"kernel_shape": [4, 4], "strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},  # output 2H - 1: not the phase form
        {"kernel_shape": [3, 3]},  # stride 1 on a 6 x 6 input
    ],
)
def test_other_transposed_convolutions_are_left_alone(attributes):
    weight = np.ones((2, 2, *attributes["kernel_shape"]), np.float32)
    model = _model([1, 2, 6, 6], weight, **attributes)
    rewritten, replaced = transposed_as_convolutions(model)
    assert replaced == [] and [n.op_type for n in rewritten.graph.node] == ["ConvTranspose"]


def test_the_exported_decoder_rewritten_decodes_the_same(tiny_export_dir, deterministic_feeds):
    path = tiny_export_dir / metadata(tiny_export_dir)["paths"]["onnx"]["decode"]
    model = onnx.load(str(path))
    rewritten, replaced = transposed_as_convolutions(model)
    assert len(replaced) == sum(n.op_type == "ConvTranspose" for n in model.graph.node) > 0
    feeds = deterministic_feeds["decode"]
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(["frames"], feeds)[0]  # noqa: E731
    np.testing.assert_allclose(run(rewritten), run(model), atol=1e-5)
