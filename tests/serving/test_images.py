"""Image signatures over the wire: Pillow's decoding == the SavedModel's, {"b64"} on both backends, clean refusals."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from serving import clip_images
from serving.client import RestClient, ServingError
from serving.onnx_runtime import InputError
from tests.serving.servers import post_json

PREDICT = "/v1/models/s3vae:predict"


@pytest.fixture(scope="module")
def sample_gifs(tiny_export_dir, reference_model) -> list[bytes]:
    return [(tiny_export_dir / sample["file"]).read_bytes() for sample in reference_model.metadata["samples"]]


def pixels_of(clips: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(clips * 256.0), 0, 255).astype(np.uint8)


def strips(data: list[bytes]) -> np.ndarray:
    return np.stack([clip_images.read_film_strip(item) for item in data])


def test_film_strip_round_trip_and_layout():
    clip = np.random.default_rng(0).integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    png = clip_images.film_strip_png(clip)
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (30, 6))
        np.testing.assert_array_equal(np.asarray(image)[:, 6:12], clip[1])  # frame 1 is the second square
    np.testing.assert_array_equal(clip_images.read_film_strip(png), clip)
    np.testing.assert_array_equal(clip_images.decode(png, 5, 6, 3), clip)
    grey = clip[..., :1]
    np.testing.assert_array_equal(clip_images.decode(clip_images.film_strip_png(grey), 5, 6, 1), grey)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"GIF89a but not really", "clip: not a PNG or GIF image"),
        (b"plain text", "clip: not a PNG or GIF image"),
        ("small", "clip: expected a PNG film strip of 30x6, got 24x6"),
        ("jpeg", "clip: expected a PNG film strip or a GIF, got JPEG"),
    ],
)
def test_decode_refuses_in_one_line(data, message):
    clip = np.zeros((4, 6, 6, 3), np.uint8)
    if data == "small":
        data = clip_images.film_strip_png(clip)
    elif data == "jpeg":
        out = io.BytesIO()
        Image.fromarray(np.zeros((6, 30, 3), np.uint8)).save(out, format="JPEG")
        data = out.getvalue()
    with pytest.raises(ValueError) as error:
        clip_images.decode(data, 5, 6, 3)
    assert str(error.value) == message


def test_onnx_swap_images_is_swap_in_pixels(reference_model, sample_gifs, sample_clips):
    out = reference_model.run("swap_images", {"clip_a_bytes": sample_gifs[:2], "clip_b_bytes": sample_gifs[2:]})
    a_with_b, b_with_a = reference_model.swap(sample_clips[:2], sample_clips[2:])
    np.testing.assert_array_equal(strips(out["a_with_b_appearance_bytes"]), pixels_of(a_with_b))
    np.testing.assert_array_equal(strips(out["b_with_a_appearance_bytes"]), pixels_of(b_with_a))


def test_onnx_and_savedmodel_image_signatures_agree(onnx_backend, savedmodel_backend, sample_gifs):
    """Pillow (onnx backend) and DecodeGif/EncodePng (SavedModel) give the same pixels, up to one level of
    rounding where the two float models differ by ~1e-6 at a .5 boundary."""
    feeds = {"clip_a_bytes": sample_gifs[:2], "clip_b_bytes": sample_gifs[2:]}
    by_onnx = onnx_backend.predict("swap_images", feeds)
    by_tf = savedmodel_backend.predict("swap_images", feeds)
    for name in ("a_with_b_appearance_bytes", "b_with_a_appearance_bytes"):
        difference = np.abs(strips(by_onnx[name]).astype(int) - strips(by_tf[name]).astype(int))
        assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    latents = {"frames_bytes": sample_gifs}
    np.testing.assert_allclose(
        onnx_backend.predict("encode_images", latents)["f_mean"], savedmodel_backend.predict("encode_images", latents)["f_mean"], atol=1e-4
    )


@pytest.mark.parametrize("fmt", ["columnar", "row"])
def test_b64_requests_on_both_backends(any_server, fmt, reference_model, sample_gifs, sample_clips):
    with RestClient(any_server.url, fmt=fmt) as client:
        a_with_b, b_with_a = client.swap_images(sample_gifs[:2], sample_gifs[2:])
        expected = reference_model.swap(sample_clips[:2], sample_clips[2:])
        for got, want in zip((a_with_b, b_with_a), expected):
            assert all(isinstance(item, bytes) for item in got)
            assert np.abs(strips(got).astype(int) - pixels_of(want).astype(int)).max() <= 1
        latents = client.encode_images(sample_gifs)
        np.testing.assert_allclose(latents["f_mean"], reference_model.encode(sample_clips)["f_mean"], atol=1e-4)
        generated = client.generate_images(2, seed=5, z_f=latents["f_mean"][0])
        reference = reference_model.generate(2, seed=5, z_f=latents["f_mean"][0])
        assert np.abs(strips(generated["frames_bytes"]).astype(int) - pixels_of(reference["frames"]).astype(int)).max() <= 1
        decoded = client.decode_images(latents["f_mean"][:1], latents["z_mean"][:1])
        assert strips(decoded).shape == sample_clips[:1].shape


def test_a_b64_answer_is_what_tf_serving_writes(onnx_server, sample_gifs):
    body = {"signature_name": "swap_images", "inputs": {
        "clip_a_bytes": [{"b64": base64.b64encode(sample_gifs[0]).decode()}],
        "clip_b_bytes": [{"b64": base64.b64encode(sample_gifs[1]).decode()}],
    }}
    status, answer = post_json(onnx_server.url + PREDICT, json.dumps(body))
    assert status == 200 and sorted(answer["outputs"]) == ["a_with_b_appearance_bytes", "b_with_a_appearance_bytes"]
    (item,) = answer["outputs"]["a_with_b_appearance_bytes"]
    assert list(item) == ["b64"] and base64.b64decode(item["b64"]).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "value, message",
    [
        ("not-a-list", 'clip_a_bytes: expected a list of {"b64": "<base64>"} objects, one per clip, got'),
        ([{"b64": "%%%"}], "clip_a_bytes[0]: b64 is not base64 text"),
        ([{"b64": base64.b64encode(b"hello").decode()}], "swap_images: clip_a_bytes[0]: not a PNG or GIF image"),
        ("small strip", "swap_images: clip_a_bytes[0]: expected a PNG film strip of 512x64, got 256x64"),
    ],
)
def test_bad_images_get_the_same_400_on_both_backends(any_server, sample_gifs, value, message):
    if value == "small strip":
        value = [{"b64": base64.b64encode(clip_images.film_strip_png(np.zeros((4, 64, 64, 3), np.uint8))).decode()}]
    good = [{"b64": base64.b64encode(sample_gifs[1]).decode()}]
    body = {"signature_name": "swap_images", "inputs": {"clip_a_bytes": value, "clip_b_bytes": good}}
    status, answer = post_json(any_server.url + PREDICT, json.dumps(body))
    assert status == 400
    assert message in answer["error"], answer


def test_python_api_refuses_a_single_bytes_value(reference_model, sample_gifs):
    with pytest.raises(InputError, match="expected a sequence of byte strings"):
        reference_model.run("swap_images", {"clip_a_bytes": sample_gifs[0], "clip_b_bytes": sample_gifs[1:2]})
    with RestClient("http://127.0.0.1:9") as client, pytest.raises((ValueError, ServingError)):
        client.swap_images(sample_gifs[0], sample_gifs[1])
