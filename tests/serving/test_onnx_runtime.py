"""serving.onnx_runtime: runs an export with numpy + onnxruntime only, and rejects bad inputs clearly."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from serving import onnx_runtime
from serving.onnx_runtime import ExportError, InputError, OnnxModel, read_gif

REPO = Path(__file__).resolve().parents[2]

BLOCKER = """
import sys

class _Blocked:
    '''Make every import of these packages fail, as on a machine without them.'''
    BLOCKED = ("tensorflow", "keras", "tf_keras", "tensorflow_probability", "tf2onnx", "s3vae_tf", "export")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, _Blocked())
"""

SCRIPT = """
import json, sys
import numpy as np
try:
    import tensorflow
    blocked = False
except ImportError:
    blocked = True
from serving.onnx_runtime import OnnxModel, read_gif
model = OnnxModel(sys.argv[1])
clips = [read_gif(f"{sys.argv[1]}/{s['file']}") / model.pixel_scale for s in model.metadata["samples"][:2]]
a_with_b, b_with_a = model.swap(clips[0][None], clips[1][None])
out = {
    "blocked": blocked,
    "swap_shape": list(a_with_b.shape),
    "f_mean": model.encode(clips[0][None])["f_mean"].tolist(),
    "generate_shape": list(model.generate(2, seed=3)["frames"].shape),
    "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "s3vae_tf", "export")),
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def model(tiny_export_dir) -> OnnxModel:
    return OnnxModel(tiny_export_dir)


@pytest.fixture(scope="module")
def clips(tiny_export_dir, model) -> np.ndarray:
    """The export's sample clips as model inputs (4, T, H, W, C)."""
    return np.stack([read_gif(tiny_export_dir / s["file"]) for s in model.metadata["samples"]]) / model.pixel_scale


def test_works_where_tensorflow_cannot_be_imported(tmp_path, tiny_export_dir, model, clips):
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(BLOCKER))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_export_dir)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["blocked"] is True and out["heavy_modules"] == []
    assert out["swap_shape"] == [1, *model.clip_shape] and out["generate_shape"] == [2, *model.clip_shape]
    np.testing.assert_allclose(out["f_mean"], model.encode(clips[:1])["f_mean"], atol=1e-6)


def test_endpoints_match_the_onnx_sessions(tiny_export_dir, model, clips):
    session = ort.InferenceSession(str(tiny_export_dir / "onnx" / "swap.onnx"), providers=["CPUExecutionProvider"])
    a_with_b, b_with_a = model.swap(clips[:2], clips[2:])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"clip_a": clips[:2].astype(np.float32), "clip_b": clips[2:].astype(np.float32)})))
    np.testing.assert_array_equal(a_with_b, expected["a_with_b_appearance"])
    np.testing.assert_array_equal(b_with_a, expected["b_with_a_appearance"])
    latents = model.encode(clips)
    decoded = model.decode(latents["f_mean"], latents["z_mean"])
    assert decoded.shape == clips.shape and decoded.dtype == np.float32
    np.testing.assert_allclose(model.decode(latents["f_mean"][2:], latents["z_mean"][:2]), a_with_b, atol=1e-5)


def test_generate_count_seed_and_fixed_latents(model):
    four = model.generate(4, seed=10)
    np.testing.assert_array_equal(four["frames"][2], model.generate(1, seed=12)["frames"][0])  # clip i = seed + i
    np.testing.assert_array_equal(four["frames"], model.generate(4, seed=10)["frames"])
    z_f = four["z_f_used"][0]
    same_look = model.generate(3, seed=50, z_f=z_f)
    np.testing.assert_array_equal(same_look["z_f_used"], np.repeat(z_f[None], 3, axis=0))
    assert not np.allclose(same_look["z_t_used"][0], same_look["z_t_used"][1])  # motion still varies
    same_motion = model.generate(2, seed=60, z_t=four["z_t_used"][1])
    np.testing.assert_array_equal(same_motion["z_t_used"][1], four["z_t_used"][1])


@pytest.mark.parametrize(
    "signature, inputs, message",
    [
        ("encode", {"frames": np.zeros((1, 8, 64, 64, 3), np.uint8)}, "encode: frames: expected floating-point values (float32), got uint8 (uint8 pixels: divide by pixel_scale first)"),
        ("encode", {"frames": np.zeros((8, 64, 64, 3), np.float32)}, "encode: frames: expected shape (batch, 8, 64, 64, 3), got (8, 64, 64, 3)"),
        ("encode", {"frames": np.zeros((1, 8, 32, 32, 3), np.float32)}, "encode: frames: expected shape (batch, 8, 64, 64, 3), got (1, 8, 32, 32, 3)"),
        ("encode", {"frames": np.zeros((0, 8, 64, 64, 3), np.float32)}, "encode: frames: the batch is empty"),
        ("encode", {"frames": np.full((1, 8, 64, 64, 3), 1.5, np.float32)}, "encode: frames: values must lie in [0.0, 1.0], got [1.5, 1.5]"),
        ("encode", {"frames": np.full((1, 8, 64, 64, 3), np.nan, np.float32)}, "encode: frames: contains NaN or infinite values"),
        ("encode", {"clip": 1}, "encode: unknown input clip; expected frames"),
        ("decode", {"z_f": np.zeros((2, 8))}, "decode: missing input z_t; expected z_f, z_t"),
        ("decode", {"z_f": np.zeros((2, 8)), "z_t": np.zeros((3, 8, 4))}, "decode: z_t has batch size 3 but z_f has 2"),
        ("decode", {"z_f": np.zeros((1, 8)), "z_t": np.full((1, 8, 4), np.inf)}, "decode: z_t: contains NaN or infinite values"),
        ("decode", {"z_f": "abc", "z_t": np.zeros((1, 8, 4))}, "decode: z_f: expected floating-point values (float32), got <U3"),
        ("generate", {"seed": np.array([1.0]), "z_f": np.zeros((1, 8)), "z_t": np.zeros((1, 8, 4)), "fix_z_f": [False], "fix_z_t": [False]}, "generate: seed: expected integers (int32), got float64"),
        ("generate", {"seed": [2**31 - 1], "z_f": np.zeros((1, 8)), "z_t": np.zeros((1, 8, 4)), "fix_z_f": [False], "fix_z_t": [False]}, "generate: seed: values must lie in [0, 2147483646], got [2147483647, 2147483647]"),
        ("generate", {"seed": [2**40], "z_f": np.zeros((1, 8)), "z_t": np.zeros((1, 8, 4)), "fix_z_f": [False], "fix_z_t": [False]}, "generate: seed: values must fit int32"),
        ("generate", {"seed": [1], "z_f": np.zeros((1, 8)), "z_t": np.zeros((1, 8, 4)), "fix_z_f": [0], "fix_z_t": [False]}, "generate: fix_z_f: expected booleans (true/false), got int64"),
        (
            "transform",
            {},
            "unknown signature 'transform'; choose one of encode, decode, swap, generate, "
            "encode_images, decode_images, swap_images, generate_images",
        ),
    ],
)
def test_bad_inputs_are_rejected_with_one_clear_line(model, signature, inputs, message):
    with pytest.raises(InputError) as info:
        model.run(signature, inputs)
    assert str(info.value) == message


def test_generate_arguments_are_checked(model):
    with pytest.raises(InputError, match="count must be a positive integer"):
        model.generate(0)
    with pytest.raises(InputError, match=r"seed \+ count - 1 in \[0, 2147483646\]"):
        model.generate(2, seed=2**31 - 2)
    with pytest.raises(InputError, match=r"generate: z_f: expected shape \(batch, 8\), got \(3, 7\)"):
        model.generate(3, z_f=np.zeros((3, 7)))


def test_bad_export_directories(tmp_path, tiny_export_dir):
    with pytest.raises(ExportError, match="is not an export directory"):
        OnnxModel(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_export_dir, copy)
    with open(copy / "onnx" / "decode.onnx", "ab") as fh:
        fh.write(b"\0")
    model = OnnxModel(copy)
    model.encode(np.zeros((1, *model.clip_shape), np.float32))  # intact files still load
    with pytest.raises(ExportError, match="decode.onnx does not match its sha256"):
        model.decode(np.zeros((1, 8)), np.zeros((1, 8, 4)))
    (copy / "onnx" / "swap.onnx").unlink()
    with pytest.raises(ExportError, match="swap.onnx is missing"):
        OnnxModel(copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["paths"].pop("onnx")
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ExportError, match="has no ONNX models"):
        OnnxModel(copy)


def test_session_settings(monkeypatch, tiny_export_dir):
    model = OnnxModel(tiny_export_dir, threads=1)
    assert model.providers[-1] == "CPUExecutionProvider"
    options = model.session("encode").get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0" and options.intra_op_num_threads == 1
    monkeypatch.setattr(onnx_runtime.ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_runtime.default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnx_runtime.ort, "get_available_providers", lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert onnx_runtime.default_providers() == ["CPUExecutionProvider"]


def test_picks_the_int8_models_when_the_export_has_them_and_says_so(tiny_quantized_export_dir, tiny_export_dir, clips, caplog):
    with caplog.at_level(logging.INFO, logger="serving.onnx_runtime"):
        fast = OnnxModel(tiny_quantized_export_dir)
    assert (fast.precision, fast.format) == ("int8", "onnx_int8") and fast.loaded.startswith("onnx_int8 (convolutions int8")
    assert "int8 ONNX models (onnx_int8)" in caplog.text
    exact = OnnxModel(tiny_quantized_export_dir, precision="float32")
    assert (exact.precision, exact.format, exact.loaded) == ("float32", "onnx", "onnx (float32)")
    assert OnnxModel(tiny_export_dir).format == "onnx"  # nothing quantised: the float models
    quick, reference = fast.swap(clips[:2], clips[2:]), exact.swap(clips[:2], clips[2:])
    assert np.abs(quick[0] - reference[0]).max() <= 0.05 and not np.array_equal(quick[0], reference[0])
    assert fast.session("swap").get_inputs()[0].name == "clip_a"
    with pytest.raises(ExportError, match=r"has no int8 ONNX models \(export it with --quantize int8\)"):
        OnnxModel(tiny_export_dir, precision="int8")
    with pytest.raises(ValueError, match="precision must be auto, int8 or float32"):
        OnnxModel(tiny_export_dir, precision="fp64")
