"""Rewrite an ONNX graph's transposed convolutions as plain convolutions, exactly (to float rounding).

Why: onnxruntime's quantiser has no integer kernel for ``ConvTranspose`` on the CPU: in a QDQ model the
decoder's transposed convolutions stay float with their weights dequantised around them, so an int8
swap is no faster than float. Written as ``Conv`` nodes they run as ``QLinearConv`` (VNNI on x86).
Two patterns cover the DCGAN decoder:

* **Stride-s "phase" form** (kernel k = 2s... any k divisible by s, padding (k - s) / 2: the output is s
  times the input): output pixel (s*i + a, s*j + b) sees only the kernel taps of its phase (a, b), so the
  layer is s*s small convolutions of the input (k/s x k/s each, with their own padding) whose outputs,
  concatenated, DepthToSpace interleaves. Same multiply-adds as the transposed convolution.
* **1 x 1 input** (the decoder's first layer, latents -> 4 x 4 x 512): a 1 x 1 convolution to
  C_out * k * k channels, reshaped to (C_out, k, k): a matrix product, which onnxruntime runs about
  three times faster than its ``ConvTranspose`` on a 1 x 1 image.

Any other ``ConvTranspose`` (groups, dilations, output padding, explicit output shapes, non-constant
weights) is left as it is. The rewrite needs the input's spatial size only for the 1 x 1 case, from ONNX
shape inference.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["transposed_as_convolutions"]


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _phase_taps(kernel: int, stride: int, pad: int) -> list[tuple[int, int, list[int]]] | None:
    """Per output phase a: (pad before, pad after, kernel taps in the order a convolution reads them).

    Output index s*q + a reads input q + d through kernel tap a + pad - s*d for every d with the tap in
    [0, k). None when the layer is not the "output = s * input" form this rewrite handles.
    """
    if stride < 2 or kernel % stride or 2 * pad != kernel - stride:
        return None
    phases = []
    for a in range(stride):
        offsets = [d for d in range(-kernel, kernel + 1) if 0 <= a + pad - stride * d < kernel]
        low, high = min(offsets), max(offsets)
        if low > 0 or high < 0:
            return None  # would need negative padding
        phases.append((-low, high, [a + pad - stride * d for d in range(low, high + 1)]))
    return phases


def _spatial_size(model: onnx.ModelProto, name: str) -> list[int | None] | None:
    inferred = onnx.shape_inference.infer_shapes(model)
    for value in [*inferred.graph.value_info, *inferred.graph.input]:
        if value.name == name:
            dims = value.type.tensor_type.shape.dim
            return [d.dim_value if d.HasField("dim_value") else None for d in dims][2:]
    return None


def transposed_as_convolutions(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` with every rewritable ``ConvTranspose`` replaced (see the module docstring);
    also returns the names of the replaced nodes."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    replaced: list[str] = []
    for node in graph.node:
        rewritten = _rewrite(model, node, weights) if node.op_type == "ConvTranspose" else None
        if rewritten is None:
            new_nodes.append(node)
            continue
        nodes, inits = rewritten
        new_nodes.extend(nodes)
        new_inits.extend(inits)
        replaced.append(node.name)
    used = {name for node in new_nodes for name in node.input}
    del graph.node[:]
    graph.node.extend(new_nodes)
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return model, replaced


def _rewrite(model: onnx.ModelProto, node: onnx.NodeProto, weights: dict) -> tuple[list, list] | None:
    attrs = _attributes(node)
    if node.input[1] not in weights or (len(node.input) > 2 and node.input[2] and node.input[2] not in weights):
        return None
    if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
        return None
    if attrs.get("output_padding") or attrs.get("output_shape") or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return None
    w = numpy_helper.to_array(weights[node.input[1]])  # (C_in, C_out, kH, kW)
    if w.ndim != 4:
        return None
    c_out, (k_h, k_w) = w.shape[1], w.shape[2:]
    bias = numpy_helper.to_array(weights[node.input[2]]) if len(node.input) > 2 and node.input[2] else None
    strides, pads = attrs.get("strides", [1, 1]), attrs.get("pads", [0, 0, 0, 0])
    x, y, base = node.input[0], node.output[0], (node.name or y).replace("/", "_")

    def tensor(array: np.ndarray, suffix: str) -> onnx.TensorProto:
        return numpy_helper.from_array(np.ascontiguousarray(array.astype(w.dtype)), f"{base}__{suffix}")

    if list(strides) == [1, 1] and list(pads) == [0, 0, 0, 0] and _spatial_size(model, x) == [1, 1]:
        kernel = tensor(w.transpose(1, 2, 3, 0).reshape(c_out * k_h * k_w, w.shape[0], 1, 1), "kernel")
        shape = numpy_helper.from_array(np.array([0, c_out, k_h, k_w], np.int64), f"{base}__shape")
        conv_inputs = [x, kernel.name]
        inits = [kernel, shape]
        if bias is not None:
            expanded = tensor(np.repeat(bias, k_h * k_w), "bias")
            conv_inputs.append(expanded.name)
            inits.append(expanded)
        nodes = [
            helper.make_node("Conv", conv_inputs, [f"{base}__flat"], name=f"{base}__conv", kernel_shape=[1, 1]),
            helper.make_node("Reshape", [f"{base}__flat", shape.name], [y], name=f"{base}__reshape"),
        ]
        return nodes, inits
    if strides[0] != strides[1] or len(set(pads)) != 1:
        return None
    rows, cols = _phase_taps(k_h, strides[0], pads[0]), _phase_taps(k_w, strides[1], pads[1])
    if rows is None or cols is None:
        return None
    nodes, inits, parts = [], [], []
    for a, (top, bottom, taps_h) in enumerate(rows):
        for b, (left, right, taps_w) in enumerate(cols):
            kernel = tensor(w[:, :, taps_h][:, :, :, taps_w].transpose(1, 0, 2, 3), f"kernel_{a}{b}")
            conv_inputs = [x, kernel.name]
            inits.append(kernel)
            if bias is not None:
                phase_bias = tensor(bias, f"bias_{a}{b}")
                conv_inputs.append(phase_bias.name)
                inits.append(phase_bias)
            parts.append(f"{base}__phase_{a}{b}")
            nodes.append(helper.make_node("Conv", conv_inputs, [parts[-1]], name=f"{base}__conv_{a}{b}",
                                          kernel_shape=[len(taps_h), len(taps_w)], pads=[top, left, bottom, right]))
    # channels in (a, b, c) order: DepthToSpace's DCR mode puts channel (a*s + b)*C + c at pixel (s*i + a, s*j + b)
    nodes.append(helper.make_node("Concat", parts, [f"{base}__phases"], name=f"{base}__concat", axis=1))
    nodes.append(helper.make_node("DepthToSpace", [f"{base}__phases"], [y], name=f"{base}__interleave", blocksize=strides[0], mode="DCR"))
    return nodes, inits
