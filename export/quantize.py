"""Quantised exports: ONNX int8 (static, calibrated on real training clips), TFLite int8 and TFLite fp16.

* ``onnx_int8``: the float ONNX endpoint with its transposed convolutions rewritten as convolutions
  (:mod:`export.onnx_rewrite`, exact), then onnxruntime's static QDQ quantisation of every ``Conv``:
  int8 weights per output channel, uint8 activations with MinMax ranges read on calibration inputs made
  from real training clips. Only the convolutions are quantised (encoder and decoder, 85% of ONNX
  Runtime's kernel time in a float swap); the recurrent posterior and prior stay float32. onnxruntime fuses each quantised convolution into
  ``QLinearConv`` (VNNI on x86).
* ``tflite_int8``: TFLite's post-training integer quantisation of the convolutions with the same
  calibration inputs (float inputs, outputs and other ops; :func:`export.tflite_export.convert`).
* ``tflite_fp16``: float16 weights (half the size); LiteRT computes in float16 where the hardware does
  (ARM, GPU delegates) and dequantises to float32 on x86.

The calibration inputs per endpoint: ``encode`` real clips; ``decode`` their posterior means (float model);
``swap`` pairs of real clips; ``generate`` seeds (the prior's own samples, nothing fixed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from export.onnx_rewrite import transposed_as_convolutions

DESCRIPTIONS = {
    "onnx_int8": "convolutions int8 (QDQ, per-channel weights, uint8 activations, MinMax calibration); recurrent layers float32",
    "tflite_int8": "convolutions int8 (TFLite post-training integer quantisation, calibrated); other ops float32",
    "tflite_fp16": "float16 weights (computed in float32 where the CPU has no float16 arithmetic)",
}
CALIBRATION_CLIPS = 64
CALIBRATION_BATCH = 8

Feeds = Mapping[str, np.ndarray]


def calibration_clips(frames: np.ndarray, pixel_scale: float, count: int = CALIBRATION_CLIPS) -> np.ndarray:
    """``count`` training clips spread evenly over the split, as float32 frames in [0, 1]."""
    index = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return frames[index].astype(np.float32) / np.float32(pixel_scale)


def calibration_feeds(module, clips: np.ndarray, batch: int = CALIBRATION_BATCH) -> dict[str, list[dict[str, np.ndarray]]]:
    """Inputs of each float endpoint of ``module`` (an ExportModule) made from real ``clips``, in batches."""
    feeds: dict[str, list[dict[str, np.ndarray]]] = {"encode": [], "decode": [], "swap": [], "generate": []}
    encode = module.function("encode")
    f_dim, z_shape = None, None
    for start in range(0, len(clips), batch):
        part = clips[start : start + batch]
        latents = {k: v.numpy() for k, v in encode(part).items()}
        f_dim, z_shape = latents["f_mean"].shape[1], latents["z_mean"].shape[1:]
        feeds["encode"].append({"frames": part})
        feeds["decode"].append({"z_f": latents["f_mean"], "z_t": latents["z_mean"]})
        feeds["swap"].append({"clip_a": part, "clip_b": np.roll(part, 1, axis=0)})
        count = len(part)
        feeds["generate"].append({
            "seed": np.arange(start, start + count, dtype=np.int32),
            "z_f": np.zeros((count, f_dim), np.float32),
            "z_t": np.zeros((count, *z_shape), np.float32),
            "fix_z_f": np.zeros(count, bool),
            "fix_z_t": np.zeros(count, bool),
        })
    return feeds


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: Sequence[Feeds]):
        self._feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return dict(next(self._feeds, None) or {}) or None


def quantize_onnx(float_path: Path, feeds: Sequence[Feeds], path: Path) -> onnx.ModelProto:
    """The float endpoint at ``float_path`` with its convolutions int8, calibrated on ``feeds``; written to ``path``."""
    model = onnx.load(str(float_path))
    rewritten, _ = transposed_as_convolutions(model)
    with tempfile.TemporaryDirectory(prefix="s3vae-quantize-") as tmp:
        source, prepared = Path(tmp) / "float.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(rewritten, source)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(path),
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    quantized = onnx.load(str(path))
    quantized.graph.name, quantized.doc_string = model.graph.name, model.doc_string + " (int8 convolutions)"
    quantized.producer_name = model.producer_name + " + onnxruntime.quantization"
    onnx.checker.check_model(quantized, full_check=True)
    onnx.save(quantized, str(path))
    return quantized
