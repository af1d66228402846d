"""Pictures of clips: rows of frames as one PNG grid, or an animated GIF of clips side by side or in a table."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import GifImagePlugin, Image

from s3vae_tf.io import atomic_write_bytes


def to_uint8(frames: np.ndarray, value_max: float = 1.0) -> np.ndarray:
    """Float frames in [0, value_max] (any shape, channels last) -> uint8 RGB, grey expanded to 3 channels."""
    frames = np.clip(np.asarray(frames, np.float32) / value_max, 0.0, 1.0)
    out = (frames * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out


def clip_grid(rows: Sequence[np.ndarray], pad: int = 2, value_max: float = 1.0) -> np.ndarray:
    """Rows of clips (each (T, H, W, C)) -> one uint8 image (rows x T cells) with ``pad`` px gaps."""
    rows = [to_uint8(r, value_max) for r in rows]
    t, h, w, c = rows[0].shape
    grid = np.full((len(rows) * (h + pad) + pad, t * (w + pad) + pad, c), 255, np.uint8)
    for i, clip in enumerate(rows):
        for j, frame in enumerate(clip):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + h, x : x + w] = frame
    return grid


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:

    pil = Image.fromarray(image)
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(clips: Sequence[np.ndarray], pad: int = 2, value_max: float = 1.0, scale: int = 1, frame_ms: int = 150) -> bytes:
    """Clips (each (T, H, W, C)) played side by side as one looping animated GIF."""
    return table_gif_bytes([clips], pad, value_max, scale, frame_ms)


def table_gif_bytes(
    table: Sequence[Sequence[np.ndarray]], pad: int = 2, value_max: float = 1.0, scale: int = 1, frame_ms: int = 150
) -> bytes:
    """A table of clips (rows of (T, H, W, C) clips, same shapes) played as one looping animated GIF."""

    rows = [[to_uint8(c, value_max) for c in row] for row in table]
    t, h, w, _ = rows[0][0].shape
    columns = max(len(row) for row in rows)
    frames = []
    for step in range(t):
        canvas = np.full((len(rows) * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
        for i, row in enumerate(rows):
            for j, clip in enumerate(row):
                y, x = pad + i * (h + pad), pad + j * (w + pad)
                canvas[y : y + h, x : x + w] = clip[step]
        image = Image.fromarray(canvas)
        if scale > 1:
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        frames.append(image)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0, disposal=1)
    return buf.getvalue()


def exact_gif_bytes(frames: Sequence, frame_ms: int) -> bytes:
    """Palette images (PIL, mode "P") as one looping GIF with exactly one GIF frame per image.

    Frames are written one by one with Pillow's GIF helpers: ``Image.save`` would merge identical
    consecutive frames and shorten the clip.
    """

    header, _ = GifImagePlugin.getheader(frames[0], info={"loop": 0, "duration": frame_ms})
    out = io.BytesIO()
    out.write(b"".join(header))
    for frame in frames:
        out.write(b"".join(GifImagePlugin.getdata(frame, duration=frame_ms, disposal=1)))
    out.write(b";")
    return out.getvalue()


def save_png(path: Path, image: np.ndarray, scale: int = 1) -> None:
    atomic_write_bytes(Path(path), png_bytes(image, scale))


def save_gif(path: Path, clips: Sequence[np.ndarray], **kwargs) -> None:
    atomic_write_bytes(Path(path), gif_bytes(clips, **kwargs))


def save_table_gif(path: Path, table: Sequence[Sequence[np.ndarray]], **kwargs) -> None:
    atomic_write_bytes(Path(path), table_gif_bytes(table, **kwargs))
