"""TF Serving's REST JSON <-> numpy: predict requests and responses, model status, model metadata.

The formats follow TF Serving's documented REST API (``/v1/models/NAME[...]:predict``):

* row format: ``{"signature_name": S, "instances": [...]}`` -> ``{"predictions": [...]}``; with several
  named inputs each instance is an object ``{input: value}``, with one input it may be the bare value;
  with several outputs each prediction is an object ``{output: value}``, with one output the bare value;
* columnar format: ``{"signature_name": S, "inputs": {input: tensor}}`` (or the bare tensor for a
  one-input signature) -> ``{"outputs": {output: tensor}}`` (or the bare tensor for one output).

String tensors (the image signatures' ``*_bytes`` clips) travel as TF Serving writes binary strings: each
element ``{"b64": "<base64>"}``, in requests and responses.

JSON numbers become the signature's dtype: integers are accepted for float inputs, floats are refused
for integer inputs, only ``true``/``false`` for booleans. NaN/Infinity tokens parse (as in TF Serving)
and are then refused by the input check.

JSON goes through orjson (about 10x faster than the json module on these float tensors, and it writes
float32 outputs in their shortest exact form); a body orjson refuses is retried with the json module,
which also reads the NaN/Infinity tokens TF Serving accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Mapping

import numpy as np
import orjson

from serving.status import RequestError, invalid_argument

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
TF_DTYPES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "bool": "DT_BOOL",
    "string": "DT_STRING",
}


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (INVALID_ARGUMENT with the parser's message otherwise)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = _parse_slowly(body)
    if not isinstance(value, dict):
        raise invalid_argument(f"JSON Value: the request body must be a JSON object, got {type(value).__name__}")
    return value


def _parse_slowly(body: bytes) -> Any:
    """The json module's reading of a body orjson refused (NaN/Infinity tokens), or its error message."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise invalid_argument(f"JSON Parse error: the body is not UTF-8 ({exc.reason} at offset {exc.start})") from None
    except ValueError as exc:
        raise invalid_argument(f"JSON Parse error: {exc}") from None
    except RecursionError:
        raise invalid_argument("JSON Parse error: nested too deeply") from None


def signature_name(request: Mapping[str, Any]) -> str:
    """``signature_name`` of a predict request ("serving_default" when absent or empty)."""
    name = request.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument("'signature_name' must be a string")
    return name or DEFAULT_SIGNATURE


def to_array(name: str, value: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """One JSON tensor as an array of the spec's dtype (shape, range and finiteness are checked later)."""
    if spec["dtype"] == "string":
        return _binary_strings(name, value)
    if isinstance(value, (dict, str)) or _has_object(value):
        raise invalid_argument(f"{name}: expected a (nested) list of numbers, got {_kind(value)}")
    ragged = f"{name}: the nested lists are ragged (rows of different lengths) or hold nulls or integers too large for 64 bits"
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise invalid_argument(ragged) from None
    if array.dtype == object:
        raise invalid_argument(ragged)
    dtype, kind = np.dtype(spec["dtype"]), array.dtype.kind
    if dtype.kind == "f":
        if kind not in "iuf":
            raise invalid_argument(f"{name}: expected numbers ({dtype}), got {_kind(value)}")
        with np.errstate(over="ignore"):
            out = array.astype(dtype)
        if kind == "f" and np.isfinite(array).all() and not np.isfinite(out).all():
            raise invalid_argument(f"{name}: values overflow {dtype}")
        return out
    if dtype.kind in "iu":
        if kind not in "iu":
            raise invalid_argument(f"{name}: expected integers ({dtype}), got {_kind(value)}")
        return array
    if dtype.kind == "b":
        if kind != "b":
            raise invalid_argument(f"{name}: expected booleans (true/false), got {_kind(value)}")
        return array
    raise invalid_argument(f"{name}: unsupported dtype {dtype}")


def _binary_strings(name: str, value: Any) -> np.ndarray:
    """A JSON list of ``{"b64": ...}`` as a 1-D object array of bytes."""
    expected = f'{name}: expected a list of {{"b64": "<base64>"}} objects, one per clip'
    if not isinstance(value, list):
        raise invalid_argument(f"{expected}, got {_kind(value)}")
    out = np.empty(len(value), dtype=object)
    for i, item in enumerate(value):
        if not (isinstance(item, dict) and list(item) == ["b64"] and isinstance(item["b64"], str)):
            raise invalid_argument(f"{expected}; element {i} is {_kind(item)}")
        try:
            out[i] = base64.b64decode(item["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_argument(f"{name}[{i}]: b64 is not base64 text") from None
    return out


def _has_object(value: Any) -> bool:
    """Whether a nested list holds objects or strings anywhere (checked on the first element per level)."""
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, (dict, str))


def _kind(value: Any) -> str:
    while isinstance(value, list) and value:
        value = value[0]
    return {dict: "an object", str: "strings", bool: "booleans", int: "integers", float: "numbers"}.get(
        type(value), type(value).__name__
    )


def predict_inputs(request: Mapping[str, Any], signature: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], str]:
    """Input name -> array from a predict request, and its format ("row" or "columnar")."""
    specs = signature["inputs"]
    has_rows, has_columns = "instances" in request, "inputs" in request
    if has_rows and has_columns:
        raise invalid_argument("Not both 'instances' and 'inputs' keys can be specified")
    if not has_rows and not has_columns:
        raise invalid_argument("Missing 'inputs' or 'instances' key")
    if has_columns:
        columns = request["inputs"]
        if not isinstance(columns, dict):
            if len(specs) != 1:
                raise invalid_argument(f"'inputs' must be an object naming each input: {', '.join(specs)}")
            columns = {next(iter(specs)): columns}
        return {name: _named_array(name, value, specs) for name, value in columns.items()}, "columnar"
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise invalid_argument("'instances' must be a non-empty list")
    if all(isinstance(row, dict) for row in instances):
        names = list(instances[0])
        for i, row in enumerate(instances):
            if list(row) != names and set(row) != set(names):
                raise invalid_argument(f"instance {i} has inputs {', '.join(row)} but instance 0 has {', '.join(names)}")
        return {name: _named_array(name, [row[name] for row in instances], specs) for name in names}, "row"
    if any(isinstance(row, dict) for row in instances):
        raise invalid_argument("'instances' mixes objects and bare values")
    if len(specs) != 1:
        raise invalid_argument(f"each instance must be an object naming each input: {', '.join(specs)}")
    name = next(iter(specs))
    return {name: _named_array(name, instances, specs)}, "row"


def _named_array(name: str, value: Any, specs: Mapping[str, Any]) -> np.ndarray:
    if name not in specs:
        raise invalid_argument(f"unknown input {name}; expected {', '.join(specs)}")
    return to_array(name, value, specs[name])


def predict_response(outputs: Mapping[str, np.ndarray], fmt: str) -> dict[str, Any]:
    """The JSON object TF Serving answers a predict request with, in the request's format."""
    columns = {name: _json_tensor(outputs[name]) for name in sorted(outputs)}
    if fmt == "columnar":
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    rows = len(next(iter(columns.values())))
    return {"predictions": [{name: value[i] for name, value in columns.items()} for i in range(rows)]}


def _json_tensor(value: np.ndarray) -> Any:
    """An output as JSON writes it: numeric arrays as they are, strings (bytes) as ``[{"b64": ...}]``."""
    if value.dtype.kind in "OS":
        return [{"b64": base64.b64encode(item).decode("ascii")} for item in value.reshape(-1)]
    return np.ascontiguousarray(value)


def dumps(value: Any) -> bytes:
    """Compact JSON; numpy arrays are written directly (float32 in shortest round-trip form)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


# ---------------------------------------------------------------------------------------- model info


def model_status(version: int) -> dict[str, Any]:
    """GetModelStatusResponse as JSON: the one served version, AVAILABLE."""
    return {
        "model_version_status": [
            {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }


def model_metadata(name: str, version: int, signature_defs: Mapping[str, Any]) -> dict[str, Any]:
    """GetModelMetadataResponse as TF Serving prints it (``signature_def`` unpacked, field names kept)."""
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": dict(signature_defs)}},
    }


def _tensor_info(tensor_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": tensor_name,
        "dtype": TF_DTYPES[spec["dtype"]],
        "tensor_shape": {"dim": [{"size": str(size), "name": ""} for size in spec["shape"]], "unknown_rank": False},
    }


def signature_defs(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The SignatureDefMap of the export's SavedModel, rebuilt from metadata.json alone (no TensorFlow).

    Tensor names follow what ``tf.saved_model.save`` writes: inputs ``<signature>_<input>:0``; outputs
    ``StatefulPartitionedCall[_i]:<j>``, one call per signature in sorted signature order, outputs in sorted
    name order. A test checks the result against the real ``saved_model.pb``.
    """
    signatures = {**metadata["signatures"], DEFAULT_SIGNATURE: metadata["signatures"][metadata["default_signature"]]}
    out: dict[str, Any] = {}
    for i, sig in enumerate(sorted(signatures)):
        call = "StatefulPartitionedCall" + (f"_{i}" if i else "")
        spec = signatures[sig]
        out[sig] = {
            "inputs": {name: _tensor_info(f"{sig}_{name}:0", s) for name, s in spec["inputs"].items()},
            "outputs": {
                name: _tensor_info(f"{call}:{j}", spec["outputs"][name]) for j, name in enumerate(sorted(spec["outputs"]))
            },
            "method_name": PREDICT_METHOD,
            "defaults": {},
        }
    out["__saved_model_init_op"] = {
        "inputs": {},
        "outputs": {
            "__saved_model_init_op": {"name": "NoOp", "dtype": "DT_INVALID", "tensor_shape": {"dim": [], "unknown_rank": True}}
        },
        "method_name": "",
        "defaults": {},
    }
    return out


def error_body(error: RequestError) -> bytes:
    return dumps({"error": error.message})
