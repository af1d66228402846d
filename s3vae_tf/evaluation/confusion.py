"""Confusion matrices of a judged protocol, and their picture.

Rows are the true class, columns the judge's reading; a disentangled model under protocol A has its
counts on the diagonal. For Sprites' action (3 actions x 3 directions) an off-diagonal count in the same
action block but another direction is a direction leak (the facing direction taken from z_f), one in
another action block an action leak.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def confusion_counts(probs: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(K, K) int counts: [true, predicted] over the rows of ``probs`` (N, K) and ``labels`` (N,)."""
    predicted = np.argmax(np.asarray(probs).reshape(-1, classes), axis=-1)
    truth = np.asarray(labels).reshape(-1)
    counts = np.zeros((classes, classes), np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def confusion_png(counts: np.ndarray, names: Sequence[str], title: str = "", cell: int = 44) -> bytes:
    """A PNG of the row-normalised matrix: darker = larger share of the true class, with the percentage
    in each cell, true classes down the side and predicted ones along the top."""
    counts = np.asarray(counts, np.float64)
    k = len(counts)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    font = ImageFont.load_default()
    left = 8 + max(int(font.getlength(n)) for n in names)
    top = 24 + left
    image = Image.new("RGB", (left + k * cell + 8, top + k * cell + 8), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((8, 6), title, fill="black", font=font)
    for j, name in enumerate(names):  # predicted classes along the top, written vertically
        label = Image.new("RGB", (int(font.getlength(name)) + 4, 12), "white")
        ImageDraw.Draw(label).text((2, 0), name, fill="black", font=font)
        label = label.rotate(90, expand=True)
        image.paste(label, (left + j * cell + cell // 2 - 6, top - label.size[1] - 4))
    for i, name in enumerate(names):
        draw.text((4, top + i * cell + cell // 2 - 6), name, fill="black", font=font)
        for j in range(k):
            shade = int(255 * (1.0 - shares[i, j]))
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, 255), outline=(200, 200, 200))
            text = f"{100 * shares[i, j]:.0f}"
            draw.text((x + cell // 2 - font.getlength(text) / 2, y + cell // 2 - 6), text,
                      fill="white" if shares[i, j] > 0.5 else "black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
