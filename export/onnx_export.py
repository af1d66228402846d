"""ONNX models, one per endpoint (opset 17, dynamic batch), converted with tf2onnx and fully checked."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import tensorflow as tf

from s3vae_tf.errors import UsageError

OPSET = 17
BATCH = "batch"  # name of the dynamic first dimension of every input and output


def _declare_shape(value: onnx.ValueInfoProto, shape: tf.TensorShape) -> None:
    """Batch dimension named ``batch``, every other dimension its static size (tf2onnx leaves some unknown)."""
    dims = value.type.tensor_type.shape.dim
    if len(dims) != shape.rank:
        raise UsageError(f"ONNX {value.name}: rank {len(dims)}, expected {shape.rank}")
    for dim, size in zip(dims, shape.as_list()):
        if size is None:
            dim.dim_param = BATCH
        else:
            dim.dim_value = size


def convert(function: tf.types.experimental.PolymorphicFunction, name: str, path: Path, doc: str = "") -> onnx.ModelProto:
    """Convert one endpoint, name its batch dimension, check it (``full_check``) and write it to ``path``."""
    # lazy: tf2onnx comes with the optional 'export' extra
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=OPSET)
    concrete = function.get_concrete_function()
    expected_inputs = [spec.name for spec in function.input_signature]
    expected_outputs = sorted(concrete.structured_outputs)
    inputs, outputs = [v.name for v in model.graph.input], [v.name for v in model.graph.output]
    if inputs != expected_inputs or sorted(outputs) != expected_outputs:
        raise UsageError(f"ONNX {name}: tf2onnx named the tensors {inputs} -> {outputs}, expected {expected_inputs} -> {expected_outputs}")
    shapes = {spec.name: spec.shape for spec in function.input_signature}
    shapes.update({key: tensor.shape for key, tensor in concrete.structured_outputs.items()})
    for value in [*model.graph.input, *model.graph.output]:
        _declare_shape(value, shapes[value.name])
    model.graph.name = name
    model.doc_string = doc
    model.producer_name = "s3vae_tf export (tf2onnx)"
    onnx.checker.check_model(model, full_check=True)
    path.write_bytes(model.SerializeToString())
    return model
