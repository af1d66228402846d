"""Quantised exports (--quantize int8,fp16): listed in metadata, integer kernels, parity within stated tolerances."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest

from tests.export.runners import metadata, run

QUANTIZED = ("onnx_int8", "tflite_int8", "tflite_fp16")
NAMES = ("encode", "decode", "swap", "generate")
# max abs difference from the same float format, on real clips (frames in [0, 1]; README states these)
TOLERANCE = {"onnx_int8": 0.05, "tflite_int8": 0.1, "tflite_fp16": 1e-3}
NOISE_TOLERANCE = {"onnx_int8": 1e-5, "tflite_int8": 1e-5, "tflite_fp16": 5e-3}  # generate's z_f_used (|z| <= 5.8)


def test_metadata_lists_every_quantised_format_with_checksums(tiny_quantized_export_dir):
    meta = metadata(tiny_quantized_export_dir)
    assert meta["formats"] == ["onnx", "tflite", *QUANTIZED]
    for fmt in QUANTIZED:
        assert sorted(meta["paths"][fmt]) == sorted(NAMES)
        for rel in meta["paths"][fmt].values():
            assert rel.startswith(f"{fmt}/")
            digest = hashlib.sha256((tiny_quantized_export_dir / rel).read_bytes()).hexdigest()
            assert meta["files"][rel] == digest
        info = meta["quantization"][fmt]
        assert info["from"] == fmt.split("_")[0] and info["scheme"] == fmt.split("_")[1]
    assert meta["quantization"]["onnx_int8"]["calibration"] == {"split": "train", "clips": meta["quantization"]["tflite_int8"]["calibration"]["clips"]}
    assert meta["quantization"]["onnx_int8"]["calibration"]["clips"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_onnx_int8_runs_integer_convolutions(tiny_quantized_export_dir, name, tmp_path):
    import onnxruntime as ort

    meta = metadata(tiny_quantized_export_dir)
    model = onnx.load(str(tiny_quantized_export_dir / meta["paths"]["onnx_int8"][name]))
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "ConvTranspose" not in ops and {"QuantizeLinear", "DequantizeLinear"} <= set(ops)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimized = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    float_convs = sum(op == "Conv" for op in ops) - optimized.count("QLinearConv")
    assert optimized.count("QLinearConv") > 0 and float_convs <= 0, "every convolution should run as QLinearConv"


def test_int8_models_are_smaller(tiny_quantized_export_dir):
    meta = metadata(tiny_quantized_export_dir)
    size = lambda fmt: (tiny_quantized_export_dir / meta["paths"][fmt]["decode"]).stat().st_size  # noqa: E731
    assert size("onnx_int8") < 0.5 * size("onnx") and size("tflite_int8") < 0.5 * size("tflite")
    assert size("tflite_fp16") < 0.6 * size("tflite")


@pytest.mark.parametrize("fmt", QUANTIZED)
@pytest.mark.parametrize("signature", ["encode", "decode", "swap"])
def test_quantised_outputs_within_tolerance_of_float(tiny_quantized_export_dir, deterministic_feeds, fmt, signature):
    feeds = deterministic_feeds[signature]
    reference = run(fmt.split("_")[0], tiny_quantized_export_dir, signature, feeds)
    out = run(fmt, tiny_quantized_export_dir, signature, feeds)
    assert sorted(out) == sorted(reference)
    for key in out:
        assert out[key].shape == reference[key].shape
        assert np.abs(out[key] - reference[key]).max() <= TOLERANCE[fmt], (fmt, signature, key)


@pytest.mark.parametrize("fmt", QUANTIZED)
def test_quantised_generate_keeps_the_seed_contract(tiny_quantized_export_dir, fmt):
    from tests.export.test_parity import generate_feeds

    meta = metadata(tiny_quantized_export_dir)
    feeds = generate_feeds(meta, [3, 4])
    first, again = run(fmt, tiny_quantized_export_dir, "generate", feeds), run(fmt, tiny_quantized_export_dir, "generate", feeds)
    np.testing.assert_array_equal(first["frames"], again["frames"])
    single = run(fmt, tiny_quantized_export_dir, "generate", generate_feeds(meta, [4]))
    np.testing.assert_allclose(single["frames"][0], first["frames"][1], atol=1e-5)
    reference = run(fmt.split("_")[0], tiny_quantized_export_dir, "generate", feeds)
    # the noise is integer arithmetic, then Box-Muller in float32; fp16 stores its constants (2 pi) in float16
    np.testing.assert_allclose(first["z_f_used"], reference["z_f_used"], atol=NOISE_TOLERANCE[fmt])
    assert np.abs(first["frames"] - reference["frames"]).max() <= TOLERANCE[fmt]
