"""TFLite models, one per endpoint, with built-in ops only (LiteRT has no Flex delegate).

The functions are frozen (variables -> constants) before conversion: from a SavedModel holding Keras 3
variables, TF 2.21's converter keeps them as resource variables (VAR_HANDLE / READ_VARIABLE), which a
LiteRT interpreter leaves uninitialised, so every output would be NaN. The frozen function is wrapped
again with the endpoint's input signature so the .tflite keeps named inputs, outputs and signature key.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from s3vae_tf.errors import UsageError

# Ops that would mean the model is not plain built-ins with baked-in weights.
FORBIDDEN_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CUSTOM", "DELEGATE"})


def _frozen(function: tf.types.experimental.PolymorphicFunction) -> tf.types.experimental.PolymorphicFunction:
    """The same endpoint with its variables baked in as constants, and its input/output names kept."""
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    structure = concrete.structured_outputs

    def call(*args):
        return tf.nest.pack_sequence_as(structure, frozen(*args))

    return tf.function(call, input_signature=function.input_signature)


def convert(function: tf.types.experimental.PolymorphicFunction, name: str, path: Path, workdir: Path) -> bytes:
    """Convert one endpoint to ``path`` (signature key ``name``); ``workdir`` holds the intermediate SavedModel."""
    wrapped = _frozen(function)
    holder = tf.Module()
    holder.endpoint = wrapped
    tf.saved_model.save(holder, str(workdir), signatures={name: wrapped.get_concrete_function()})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(workdir), signature_keys=[name])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer = converter.convert()
    bad = sorted(model_ops(flatbuffer) & FORBIDDEN_OPS)
    if bad:
        raise UsageError(f"TFLite {name}: the converted model needs {', '.join(bad)} (not plain built-ins)")
    path.write_bytes(flatbuffer)
    return flatbuffer


def model_ops(flatbuffer: bytes) -> set[str]:
    """Names of the ops in a .tflite model, as LiteRT resolves them (no delegate applied)."""
    # lazy: LiteRT comes with the optional 'export' extra
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=flatbuffer, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return {op["op_name"] for op in interpreter._get_ops_details()}
