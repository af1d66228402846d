"""TFLite models, one per endpoint, with built-in ops only (LiteRT has no Flex delegate).

The functions are frozen (variables -> constants) before conversion: from a SavedModel holding Keras 3
variables, TF 2.21's converter keeps them as resource variables (VAR_HANDLE / READ_VARIABLE), which a
LiteRT interpreter leaves uninitialised, so every output would be NaN. The frozen function is wrapped
again with the endpoint's input signature so the .tflite keeps named inputs, outputs and signature key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from s3vae_tf.errors import UsageError

# Ops that would mean the model is not plain built-ins with baked-in weights.
FORBIDDEN_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CUSTOM", "DELEGATE"})
CONVOLUTIONS = frozenset({"CONV_2D", "TRANSPOSE_CONV", "DEPTHWISE_CONV_2D"})  # what int8 quantises


def _frozen(function: tf.types.experimental.PolymorphicFunction) -> tf.types.experimental.PolymorphicFunction:
    """The same endpoint with its variables baked in as constants, and its input/output names kept."""
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    structure = concrete.structured_outputs

    def call(*args):
        return tf.nest.pack_sequence_as(structure, frozen(*args))

    return tf.function(call, input_signature=function.input_signature)


def convert(
    function: tf.types.experimental.PolymorphicFunction,
    name: str,
    path: Path,
    workdir: Path,
    quantization: str | None = None,
    calibration: Sequence[Mapping[str, np.ndarray]] = (),
) -> bytes:
    """Convert one endpoint to ``path`` (signature key ``name``); ``workdir`` holds the intermediate SavedModel.

    ``quantization``: None (float32), ``"fp16"`` (float16 weights) or ``"int8"`` (post-training integer
    quantisation of the convolutions, calibrated on ``calibration`` inputs). See :mod:`export.quantize`.
    """
    wrapped = _frozen(function)
    holder = tf.Module()
    holder.endpoint = wrapped
    tf.saved_model.save(holder, str(workdir), signatures={name: wrapped.get_concrete_function()})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(workdir), signature_keys=[name])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization is not None and quantization != "int8":
        raise UsageError(f"TFLite {name}: unknown quantization {quantization!r}")
    flatbuffer = converter.convert() if quantization != "int8" else _int8_convolutions(converter, name, calibration)
    bad = sorted(model_ops(flatbuffer) & FORBIDDEN_OPS)
    if bad:
        raise UsageError(f"TFLite {name}: the converted model needs {', '.join(bad)} (not plain built-ins)")
    path.write_bytes(flatbuffer)
    return flatbuffer


def _int8_convolutions(converter: tf.lite.TFLiteConverter, name: str, calibration: Sequence[Mapping[str, np.ndarray]]) -> bytes:
    """Post-training integer quantisation of the convolutions only, as the ONNX int8 export does.

    Quantising every op also quantises ``generate``'s Box-Muller noise (log, sqrt, cos of uniforms), whose
    int8 version returns the same z_f for every seed; so every op but the convolutions is kept float,
    through TFLite's (experimental) quantisation debugger, the converter's only per-op switch.
    """
    if not calibration:
        raise UsageError(f"TFLite {name}: int8 quantisation needs calibration inputs")
    float_ops = model_ops(converter.convert())
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (dict(feeds) for feeds in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=sorted(float_ops - CONVOLUTIONS))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=converter.representative_dataset, debug_options=options
    )
    return debugger.get_nondebug_quantized_model()


def model_ops(flatbuffer: bytes) -> set[str]:
    """Names of the ops in a .tflite model, as LiteRT resolves them (no delegate applied)."""
    # lazy: LiteRT comes with the optional 'export' extra
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=flatbuffer, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return {op["op_name"] for op in interpreter._get_ops_details()}
