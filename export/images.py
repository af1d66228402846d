"""Clips as encoded images inside the SavedModel: the graph half of the ``*_images`` signatures.

TF Serving's REST API sends string tensors whose names end in ``_bytes`` as ``{"b64": ...}``: a clip of
T x H x W x C pixels travels as one PNG of a few kB instead of JSON numbers (a Sprites clip: ~5 kB vs
~0.6 MB). The layout:

* **film strip**: one PNG of H x (T * W) pixels, the T frames left to right, 8-bit, in the model's colour
  mode (RGB for 3 channels, grey for 1). Every image output is a film strip; every image input may be one.
* **GIF**: an animated GIF of exactly T frames of H x W pixels (the export's ``samples/*.gif``), input only.
  For a one-channel model its frames become grey with Pillow's ``L`` formula, so both servers agree.

Pixels are uint8 = round(frame * pixel_scale) clipped to [0, 255], and frame = uint8 / pixel_scale, as
everywhere else. Only stock ops (``DecodePng``, ``DecodeGif``, ``EncodePng``, plus control flow), so an
unmodified ``tensorflow_model_server`` runs them. ONNX and TFLite have no image decoders: the embedded
server's onnx backend does the same on the host with Pillow (:mod:`serving.clip_images`), pixel for pixel.
"""

from __future__ import annotations

import tensorflow as tf

SUFFIX = "_bytes"  # TF Serving: a string tensor so named travels as {"b64": ...}
# Which tensors of the float signatures are clips (B, T, H, W, C) in [0, 1].
CLIP_TENSORS = frozenset({"frames", "clip_a", "clip_b", "a_with_b_appearance", "b_with_a_appearance"})
PNG_COMPRESSION = 1  # zlib level: the strips are small, and level 1 encodes several times faster than 6
GIF_MAGIC = b"GIF8"


def image_name(name: str) -> str:
    """The image signature's name of a float tensor (clips get the ``_bytes`` suffix, latents keep theirs)."""
    return name + SUFFIX if name in CLIP_TENSORS else name


def _grey(rgb: tf.Tensor) -> tf.Tensor:
    """uint8 RGB -> uint8 grey with Pillow's integer formula (``convert("L")``), bit for bit."""
    r, g, b = (tf.cast(rgb[..., i : i + 1], tf.int32) for i in range(3))
    return tf.cast(tf.bitwise.right_shift(r * 19595 + g * 38470 + b * 7471 + 0x8000, 16), tf.uint8)


def decode_clip(data: tf.Tensor, frames: int, size: int, channels: int, name: str) -> tf.Tensor:
    """One encoded clip (scalar string: PNG film strip or GIF) -> uint8 (T, H, W, C); InvalidArgument otherwise."""

    def from_gif() -> tf.Tensor:
        clip = tf.io.decode_gif(data)  # (n, h, w, 3)
        check = tf.debugging.assert_equal(
            tf.shape(clip)[:3], tf.constant([frames, size, size]), message=f"{name}: expected a GIF of {frames} frames of {size}x{size}"
        )
        with tf.control_dependencies([check]):  # the check before any op that would fail in its own words
            return _grey(clip) if channels == 1 else tf.identity(clip)

    def from_png() -> tf.Tensor:
        strip = tf.io.decode_png(data, channels=channels)
        check = tf.debugging.assert_equal(
            tf.shape(strip)[:2], tf.constant([size, frames * size]), message=f"{name}: expected a PNG film strip of {frames * size}x{size}"
        )
        with tf.control_dependencies([check]):
            return tf.transpose(tf.reshape(strip, (size, frames, size, channels)), (1, 0, 2, 3))

    clip = tf.cond(tf.equal(tf.strings.substr(data, 0, 4), GIF_MAGIC), from_gif, from_png)
    return tf.ensure_shape(clip, (frames, size, size, channels))


def decode_clips(encoded: tf.Tensor, frames: int, size: int, channels: int, pixel_scale: float, name: str) -> tf.Tensor:
    """(B,) encoded clips -> float32 (B, T, H, W, C) frames = uint8 / pixel_scale."""
    pixels = tf.map_fn(
        lambda data: decode_clip(data, frames, size, channels, name),
        encoded,
        fn_output_signature=tf.TensorSpec((frames, size, size, channels), tf.uint8),
    )
    return tf.cast(pixels, tf.float32) / pixel_scale


def encode_clips(clips: tf.Tensor, pixel_scale: float) -> tf.Tensor:
    """float (B, T, H, W, C) frames -> (B,) PNG film strips of uint8 = round(frame * pixel_scale) in [0, 255]."""
    pixels = tf.cast(tf.clip_by_value(tf.round(clips * pixel_scale), 0.0, 255.0), tf.uint8)

    def strip(clip: tf.Tensor) -> tf.Tensor:
        t, h, w, c = clip.shape
        return tf.io.encode_png(tf.reshape(tf.transpose(clip, (1, 0, 2, 3)), (h, t * w, c)), compression=PNG_COMPRESSION)

    return tf.map_fn(strip, pixels, fn_output_signature=tf.TensorSpec((), tf.string))
