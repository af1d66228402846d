"""The SavedModel's image signatures: the float signatures between exact PNG/GIF decoding and encoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from export import images
from serving import clip_images
from tests.export.runners import metadata
from tests.export.test_savedmodel import version_dir


@pytest.fixture(scope="module")
def loaded(tiny_export_dir):
    return tf.saved_model.load(str(version_dir(tiny_export_dir)))


@pytest.fixture(scope="module")
def pixels(real_clips) -> np.ndarray:
    """Four real clips as uint8 pixels (the export's pixel_scale is 256)."""
    return np.round(real_clips[:4] * 256.0).astype(np.uint8)


def to_pixels(clips: np.ndarray) -> np.ndarray:
    return np.clip(np.round(clips * 256.0), 0, 255).astype(np.uint8)


def gif_bytes(clip: np.ndarray) -> bytes:
    frames = [Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame) for frame in clip]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def test_swap_images_equals_swap_then_pixels(loaded, pixels):
    strips = [clip_images.film_strip_png(clip) for clip in pixels]
    out = loaded.signatures["swap_images"](clip_a_bytes=tf.constant(strips[:2]), clip_b_bytes=tf.constant(strips[2:]))
    ref = loaded.signatures["swap"](
        clip_a=tf.constant(pixels[:2] / np.float32(256.0)), clip_b=tf.constant(pixels[2:] / np.float32(256.0))
    )
    for name in ("a_with_b_appearance", "b_with_a_appearance"):
        got = np.stack([clip_images.read_film_strip(data) for data in out[name + "_bytes"].numpy()])
        np.testing.assert_array_equal(got, to_pixels(ref[name].numpy()))


def test_gif_and_png_inputs_decode_to_the_same_pixels(loaded, pixels):
    """A GIF (palette, delta frames as Pillow writes them) and a PNG strip of one clip give one encoding."""
    quantised = clip_images.decode(gif_bytes(pixels[0]), *pixels.shape[1:3], 3)
    strip = clip_images.film_strip_png(quantised)  # GIFs quantise colours: compare against what the GIF holds
    by_gif = loaded.signatures["encode_images"](frames_bytes=tf.constant([gif_bytes(pixels[0])]))
    by_png = loaded.signatures["encode_images"](frames_bytes=tf.constant([strip]))
    for name in ("f_mean", "z_mean"):
        np.testing.assert_array_equal(by_gif[name].numpy(), by_png[name].numpy())


def test_graph_gif_decoding_matches_pillow(pixels):
    """DecodeGif on a file Pillow wrote (palette, frames stored as differences) == serving.clip_images."""
    moving = pixels[0].copy()
    moving[2:, :8] = 0  # frames that differ only in part: Pillow stores deltas
    data = gif_bytes(moving)
    graph = images.decode_clip(tf.constant(data), 8, 64, 3, "frames_bytes").numpy()
    np.testing.assert_array_equal(graph, clip_images.decode(data, 8, 64, 3))
    grey = images.decode_clip(tf.constant(data), 8, 64, 1, "frames_bytes").numpy()
    np.testing.assert_array_equal(grey, clip_images.decode(data, 8, 64, 1))


def test_grey_is_pillows_formula():
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(images._grey(tf.constant(rgb)).numpy()[..., 0], expected)


def test_encoded_strips_are_the_documented_png(tiny_export_dir, loaded, pixels):
    meta = metadata(tiny_export_dir)
    strip = meta["images"]["film_strip"]
    z_f = np.zeros((1, meta["signatures"]["decode"]["inputs"]["z_f"]["shape"][1]), np.float32)
    z_t = np.zeros((1, *meta["signatures"]["decode"]["inputs"]["z_t"]["shape"][1:]), np.float32)
    out = loaded.signatures["decode_images"](z_f=tf.constant(z_f), z_t=tf.constant(z_t))["frames_bytes"].numpy()
    with Image.open(io.BytesIO(out[0])) as image:
        assert (image.format, image.mode, image.size) == ("PNG", strip["mode"], (strip["width"], strip["height"]))


@pytest.mark.parametrize(
    "data, message",
    [
        ("wrong size", "expected a PNG film strip of 512x64"),
        ("short gif", "expected a GIF of 8 frames of 64x64"),
        ("not an image", "expected a PNG film strip"),  # DecodePng refuses it first
    ],
)
def test_bad_images_are_refused_by_the_graph(loaded, pixels, data, message):
    payload = {
        "wrong size": clip_images.film_strip_png(pixels[0, :4]),
        "short gif": gif_bytes(pixels[0, :5]),
        "not an image": b"hello, not a picture",
    }[data]
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        loaded.signatures["encode_images"](frames_bytes=tf.constant([payload]))
    if data != "not an image":
        assert message in str(error.value)
