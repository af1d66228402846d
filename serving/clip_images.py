"""Clips <-> encoded images for the ``*_images`` signatures, with Pillow: the host half of :mod:`export.images`.

A clip (T, H, W, C) of uint8 pixels is a **film strip**: one PNG of H x (T * W) pixels, the frames left to
right, in the model's colour mode (RGB, or L for one channel). As input, an animated **GIF** of exactly T
frames of H x W also works. This decodes and encodes exactly as the SavedModel's ``DecodePng`` /
``DecodeGif`` / ``EncodePng`` graph does, pixel for pixel (tests/serving/test_images.py), so the onnx
backend and any other app without TensorFlow can serve and read the image signatures. Sizes are checked
from the image header before any pixel is decoded. Needs only numpy and Pillow.

::

    from serving.clip_images import film_strip_png, read_film_strip
    png = film_strip_png(clip_uint8)        # (T, H, W, C) -> PNG bytes
    clip = read_film_strip(png)             # PNG bytes -> (T, H, W, C), T = width / height
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

PNG_COMPRESSION = 1  # as export.images: small strips, several times faster to write than zlib's default


def to_pixels(frames: np.ndarray, pixel_scale: float) -> np.ndarray:
    """Model frames (floats, frame = uint8 / pixel_scale) -> uint8 pixels: round, clip to [0, 255]."""
    return np.clip(np.rint(np.asarray(frames) * np.float32(pixel_scale)), 0, 255).astype(np.uint8)


def _frames_of(strip: np.ndarray, frames: int, size: int) -> np.ndarray:
    """A decoded film strip (H, T * W) or (H, T * W, C) -> (T, H, W, C)."""
    strip = strip[..., None] if strip.ndim == 2 else strip
    return strip.reshape(size, frames, size, strip.shape[-1]).transpose(1, 0, 2, 3).copy()


def film_strip(clip: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, C) -> (H, T * W, C): the frames side by side."""
    t, h, w, c = clip.shape
    return np.ascontiguousarray(np.asarray(clip).transpose(1, 0, 2, 3).reshape(h, t * w, c))


def film_strip_png(clip: np.ndarray) -> bytes:
    """uint8 (T, H, W, C), C = 1 or 3 -> the PNG film strip."""
    clip = np.asarray(clip)
    if clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 frames (T, H, W, 1 or 3), got {clip.dtype} {clip.shape}")
    strip = film_strip(clip)
    image = Image.fromarray(strip[..., 0] if strip.shape[-1] == 1 else strip)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESSION)
    return out.getvalue()


def read_film_strip(data: bytes) -> np.ndarray:
    """A PNG film strip of square frames -> uint8 (T, H, W, C) with T = width / height (C: 1 for grey, else 3)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if image.format != "PNG" or width % height:
            raise ValueError(f"expected a PNG film strip of square frames, got {image.format} {width}x{height}")
        strip = np.asarray(image.convert("L" if image.mode in ("L", "LA", "I;16") else "RGB"))
    return _frames_of(strip, width // height, height)


def decode(data: bytes, frames: int, size: int, channels: int, label: str = "clip") -> np.ndarray:
    """One encoded clip (PNG film strip or GIF) -> uint8 (frames, size, size, channels).

    ValueError with a one-line message naming ``label`` for anything else: not an image, another format,
    another size or frame count, a corrupt file.
    """
    mode = "L" if channels == 1 else "RGB"
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValueError(f"{label}: not a PNG or GIF image") from None
    with image:
        width, height = image.size
        try:
            if image.format == "PNG":
                if (width, height) != (frames * size, size):
                    raise ValueError(f"{label}: expected a PNG film strip of {frames * size}x{size}, got {width}x{height}")
                return _frames_of(np.asarray(image.convert(mode)), frames, size)
            if image.format == "GIF":
                count = getattr(image, "n_frames", 1)
                if (count, width, height) != (frames, size, size):
                    raise ValueError(
                        f"{label}: expected a GIF of {frames} frames of {size}x{size}, got {count} of {width}x{height}"
                    )
                # RGB first, then L: the graph decodes GIFs to RGB and greys them with this same formula
                clip = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
                array = np.stack(clip)
                if channels == 1:
                    array = np.stack([np.asarray(Image.fromarray(frame).convert("L")) for frame in array])[..., None]
                return array
        except (OSError, EOFError, SyntaxError) as exc:
            raise ValueError(f"{label}: the {image.format} is corrupt ({exc})") from None
    raise ValueError(f"{label}: expected a PNG film strip or a GIF, got {image.format}")


def decode_batch(encoded, frames: int, size: int, channels: int, label: str = "clip") -> np.ndarray:
    """A sequence of encoded clips -> uint8 (B, frames, size, size, channels); ValueError naming ``label[i]``."""
    return np.stack([decode(data, frames, size, channels, f"{label}[{i}]") for i, data in enumerate(encoded)])
