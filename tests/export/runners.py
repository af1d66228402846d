"""Run one signature of an export in each format (and the trained Keras model eagerly) on numpy inputs."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

FORMATS = ("savedmodel", "onnx", "tflite")


def metadata(export_dir: Path) -> dict:
    return json.loads((Path(export_dir) / "metadata.json").read_text())


@lru_cache(maxsize=None)
def _savedmodel(path: str):
    import tensorflow as tf

    return tf.saved_model.load(path)


@lru_cache(maxsize=None)
def _onnx(path: str):
    import onnxruntime as ort

    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def _tflite(path: str, signature: str):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path).get_signature_runner(signature)


def run(fmt: str, export_dir: Path, signature: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Output name -> array of ``signature`` in format ``fmt`` ("savedmodel", "onnx", "tflite" or a quantised
    one: "onnx_int8", "tflite_int8", "tflite_fp16")."""
    meta = metadata(export_dir)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = _savedmodel(str(Path(export_dir) / meta["paths"]["savedmodel"]))
        out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
        return {k: v.numpy() for k, v in out.items()}
    path = str(Path(export_dir) / meta["paths"][fmt][signature])
    if fmt.startswith("onnx"):
        session = _onnx(path)
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds)))
    if fmt.startswith("tflite"):
        return {k: np.asarray(v) for k, v in _tflite(path, signature)(**feeds).items()}
    raise ValueError(fmt)


def eager(model, signature: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trained Keras model called eagerly, outputs named as in the export."""
    if signature == "encode":
        return {k: np.asarray(v) for k, v in model.encode(feeds["frames"]).items()}
    if signature == "decode":
        return {"frames": np.asarray(model.decode(feeds["z_f"], feeds["z_t"]))}
    if signature == "swap":
        a_with_b, b_with_a = model.swap(feeds["clip_a"], feeds["clip_b"])
        return {"a_with_b_appearance": np.asarray(a_with_b), "b_with_a_appearance": np.asarray(b_with_a)}
    raise ValueError(signature)


def max_abs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
