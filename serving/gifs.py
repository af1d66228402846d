"""Uploaded GIFs for the web page: checked and fitted to the model's clip.

An upload must be a GIF of at most :data:`MAX_SIDE` pixels a side and :data:`MAX_FRAMES` frames (checked from
the header, before any frame is decoded). It is fitted to the model's clip: the first T frames (a shorter
clip is looped), centre-cropped to a square and resized to the model's frame size. Every change is reported
back as a note, so the page can say what the model actually saw.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from serving.status import invalid_argument

MAX_SIDE = 1024
MAX_FRAMES = 512


def decode_upload(data: bytes, frames: int, size: int, channels: int, label: str = "upload") -> tuple[np.ndarray, list[str]]:
    """GIF bytes -> uint8 clip (frames, size, size, channels) and notes on how it was fitted."""

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise invalid_argument(f"{label}: not an image Pillow can read (upload an animated GIF)") from None
    with image:
        if image.format != "GIF":
            raise invalid_argument(f"{label}: expected a GIF, got {image.format}")
        width, height = image.size
        count = getattr(image, "n_frames", 1)
        if max(width, height) > MAX_SIDE or count > MAX_FRAMES:
            raise invalid_argument(
                f"{label}: {width}x{height} with {count} frames exceeds {MAX_SIDE}x{MAX_SIDE} with {MAX_FRAMES} frames"
            )
        mode = "L" if channels == 1 else "RGB"
        try:
            clip = [np.asarray(frame.convert(mode)) for _, frame in zip(range(frames), ImageSequence.Iterator(image))]
        except (OSError, ValueError, EOFError) as exc:
            raise invalid_argument(f"{label}: the GIF is corrupt ({exc})") from None
    notes = []
    if count < frames:
        notes.append(f"{label}: {count} frames looped to {frames}")
        clip = [clip[i % len(clip)] for i in range(frames)]
    elif count > frames:
        notes.append(f"{label}: first {frames} of {count} frames")
    if (width, height) != (size, size):
        notes.append(f"{label}: {width}x{height} centre-cropped and resized to {size}x{size}")
        clip = [_fit(frame, size) for frame in clip]
    array = np.stack(clip)
    return (array[..., None] if channels == 1 else array), notes


def _fit(frame: np.ndarray, size: int) -> np.ndarray:

    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(frame[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS if side > size else Image.Resampling.NEAREST))
