"""metadata.json describes the export completely: model facts, signatures, samples, and a checksum per file."""

from __future__ import annotations

import hashlib

import numpy as np

from export.samples import clip_gif_bytes
from serving.onnx_runtime import read_gif
from tests.conftest import TINY_MODEL
from tests.export.runners import metadata

REQUIRED = (
    "schema", "name", "version", "dataset", "variant", "frames", "frame_size", "channels", "pixel_scale", "value_range",
    "latents", "labels", "model", "config", "signatures", "default_signature", "formats", "paths", "samples",
    "checkpoint", "files", "images",
)


def test_model_facts(tiny_export_dir, tiny_run_dir):
    meta = metadata(tiny_export_dir)
    assert all(key in meta for key in REQUIRED)
    assert (meta["name"], meta["version"], meta["dataset"], meta["variant"]) == ("s3vae", 1, "sprite", "full")
    assert (meta["frames"], meta["frame_size"], meta["channels"]) == (8, 64, 3)
    assert meta["value_range"] == [0.0, 255 / 256] and meta["pixel_scale"] == 256.0
    assert meta["latents"] == {"f_dim": TINY_MODEL["f_dim"], "z_dim": TINY_MODEL["z_dim"]}
    assert meta["labels"]["static"][0] == ["skin", 6] and meta["labels"]["dynamic"] == [["action", 9]]
    assert meta["config"]["model"]["hidden_dim"] == TINY_MODEL["hidden_dim"] and meta["config"]["train"]["batch_size"] == 8
    assert meta["formats"] == ["savedmodel", "onnx", "tflite"] and meta["default_signature"] == "swap"
    assert meta["checkpoint"]["epoch"] == 1
    for name, digest in meta["checkpoint"]["sha256"].items():
        assert hashlib.sha256((tiny_run_dir / "checkpoints" / name).read_bytes()).hexdigest() == digest


def test_every_file_has_its_checksum(tiny_export_dir):
    meta = metadata(tiny_export_dir)
    on_disk = sorted(p.relative_to(tiny_export_dir).as_posix() for p in tiny_export_dir.rglob("*") if p.is_file())
    assert sorted(meta["files"]) == [p for p in on_disk if p != "metadata.json"]
    for rel, digest in meta["files"].items():
        assert hashlib.sha256((tiny_export_dir / rel).read_bytes()).hexdigest() == digest, rel


def test_signature_contract(tiny_export_dir):
    signatures = metadata(tiny_export_dir)["signatures"]
    assert list(signatures) == ["encode", "decode", "swap", "generate", "encode_images", "decode_images", "swap_images", "generate_images"]
    assert list(signatures["encode"]["inputs"]) == ["frames"]
    assert sorted(signatures["encode"]["outputs"]) == ["f_logvar", "f_mean", "z_logvar", "z_mean"]
    assert signatures["encode"]["outputs"]["z_mean"]["shape"] == [-1, 8, TINY_MODEL["z_dim"]]
    assert list(signatures["decode"]["inputs"]) == ["z_f", "z_t"] and list(signatures["decode"]["outputs"]) == ["frames"]
    assert list(signatures["swap"]["inputs"]) == ["clip_a", "clip_b"]
    assert sorted(signatures["swap"]["outputs"]) == ["a_with_b_appearance", "b_with_a_appearance"]
    generate = signatures["generate"]
    assert {k: v["dtype"] for k, v in generate["inputs"].items()} == {
        "seed": "int32", "z_f": "float32", "z_t": "float32", "fix_z_f": "bool", "fix_z_t": "bool",
    }
    assert generate["inputs"]["seed"]["range"] == [0, 2**31 - 2]
    assert signatures["swap"]["inputs"]["clip_a"] == {"dtype": "float32", "shape": [-1, 8, 64, 64, 3], "range": [0.0, 1.0]}


def test_image_signatures_are_described(tiny_export_dir):
    meta = metadata(tiny_export_dir)
    signatures = meta["signatures"]
    clip = {"dtype": "string", "shape": [-1], "range": None, "image": "clip"}
    swap = signatures["swap_images"]
    assert swap["images_of"] == "swap" and swap["inputs"] == {"clip_a_bytes": clip, "clip_b_bytes": clip}
    assert swap["outputs"] == {"a_with_b_appearance_bytes": clip, "b_with_a_appearance_bytes": clip}
    assert list(signatures["encode_images"]["inputs"]) == ["frames_bytes"]
    assert signatures["encode_images"]["outputs"] == signatures["encode"]["outputs"]  # latents stay float tensors
    assert signatures["decode_images"]["inputs"] == signatures["decode"]["inputs"]
    generate = signatures["generate_images"]
    assert generate["inputs"] == signatures["generate"]["inputs"]
    assert generate["outputs"] == {"frames_bytes": clip, "z_f_used": signatures["generate"]["outputs"]["z_f_used"],
                                   "z_t_used": signatures["generate"]["outputs"]["z_t_used"]}
    assert meta["images"]["film_strip"] == {"height": 64, "width": 512, "mode": "RGB", "layout": "the T frames left to right, 8-bit"}
    assert meta["images"]["pixel_scale"] == 256.0
    assert sorted(meta["paths"]["onnx"]) == ["decode", "encode", "generate", "swap"]  # no image decoders in ONNX


def test_samples_are_real_test_clips_that_decode_exactly(tiny_export_dir, sprite_data_dir):
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry

    meta = metadata(tiny_export_dir)
    test = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))["test"]
    assert len(meta["samples"]) == 4 and len({s["test_index"] for s in meta["samples"]}) == 4
    for sample in meta["samples"]:
        clip = read_gif(tiny_export_dir / sample["file"])
        np.testing.assert_array_equal(clip, test["frames"][sample["test_index"]])
        assert sample["labels"]["skin"] == test["static"][sample["test_index"]][0]
        assert sample["labels"]["action"] == test["dynamic"][sample["test_index"]][0][0]


def test_gif_keeps_repeated_frames():
    """Pillow's Image.save would merge identical consecutive frames and shorten the clip."""
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 4, (6, 16, 16, 3), dtype=np.uint8) * 60
    clip[3] = clip[2]
    np.testing.assert_array_equal(read_gif(clip_gif_bytes(clip)), clip)
    many = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)  # > 256 colours: quantised, still 3 frames
    assert read_gif(clip_gif_bytes(many)).shape == many.shape
