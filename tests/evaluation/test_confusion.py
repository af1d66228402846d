"""Confusion counts and their picture."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from s3vae_tf.evaluation.confusion import confusion_counts, confusion_png


def test_counts_rows_are_truth_columns_predictions():
    probs = np.eye(3)[[0, 1, 2, 2, 0]]
    counts = confusion_counts(probs, np.array([0, 1, 2, 1, 1]), 3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [1, 1, 1], [0, 0, 1]])


def test_png_has_a_cell_per_class_pair():
    counts = np.diag([5, 5, 5]) + np.eye(3, k=1, dtype=int)
    image = Image.open(io.BytesIO(confusion_png(counts, ["walk-front", "walk-left", "walk-right"], "title", cell=40)))
    assert image.format == "PNG" and image.width >= 3 * 40 and image.height >= 3 * 40
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels[..., 2] > pixels[..., 0] + 100).any()  # shaded cells are blue
