"""A few real test clips written into the export as animated GIFs, for demos and the serving web page.

Each GIF holds exactly one clip at the model's resolution, one GIF frame per clip frame, with a palette
built from the clip's own colours, so decoding it gives back the uint8 frames bit for bit (Sprites clips
use far fewer than 256 colours; a clip with more is quantised). Frames are written one by one with
Pillow's GIF helpers because ``Image.save`` merges identical consecutive frames, which would shorten
the clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from s3vae_tf.io import atomic_write_bytes
from s3vae_tf.pictures.grids import exact_gif_bytes

FRAME_MS = 150


def pick(count: int, available: int) -> list[int]:
    """``count`` clip indices spread evenly over a split of ``available`` clips (different characters)."""
    count = min(count, available)
    return sorted({int(i) for i in np.linspace(0, available - 1, count).round()})


def clip_gif_bytes(clip: np.ndarray, frame_ms: int = FRAME_MS) -> bytes:
    """uint8 (T, H, W, C) -> a looping GIF that decodes back to the same frames (grey becomes RGB)."""

    clip = np.asarray(clip, np.uint8)
    if clip.shape[-1] == 1:
        clip = np.repeat(clip, 3, axis=-1)
    colours, index = np.unique(clip.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) <= 256:
        palette = np.zeros((256, 3), np.uint8)
        palette[: len(colours)] = colours
        frames = []
        for plane in index.reshape(clip.shape[:3]).astype(np.uint8):
            frame = Image.fromarray(plane, mode="P")
            frame.putpalette(palette.ravel().tolist())
            frames.append(frame)
    else:
        mosaic = Image.fromarray(clip.reshape(-1, clip.shape[2], 3)).quantize(256)
        frames = [Image.fromarray(frame).quantize(palette=mosaic) for frame in clip]
    return exact_gif_bytes(frames, frame_ms)


def write(directory: Path, frames: np.ndarray, static: np.ndarray, dynamic: np.ndarray, indices: list[int], heads: dict) -> list[dict]:
    """Write ``NN.gif`` for each test clip in ``indices``; return their metadata entries (file, index, labels)."""
    entries = []
    for n, index in enumerate(indices):
        name = f"{n:02d}.gif"
        atomic_write_bytes(directory / name, clip_gif_bytes(frames[index]))
        labels = {head: int(static[index][i]) for i, (head, _) in enumerate(heads["static"])}
        labels.update({head: int(dynamic[index][0][i]) for i, (head, _) in enumerate(heads["dynamic"])})
        entries.append({"file": f"samples/{name}", "test_index": index, "labels": labels})
    return entries
