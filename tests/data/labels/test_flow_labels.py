"""Optical-flow grid labels on synthetic motion with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from s3vae_tf.data.labels.flow_labels import clip_labels, dataset_labels, grid_labels


def _textured_square(shift_x: int = 0, shift_y: int = 0, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = (rng.random((16, 16)) * 200 + 55).astype(np.uint8)
    texture = np.kron(texture, np.ones((2, 2), np.uint8))[:16, :16]  # blocky texture Farneback can track
    frame = np.zeros((size, size, 3), np.uint8)
    y, x = 24 + shift_y, 24 + shift_x
    frame[y : y + 16, x : x + 16] = texture[..., None]
    return frame


@pytest.mark.parametrize(
    "dx, dy, expected_bin",
    [(2, 0, 0), (0, -2, 2), (-2, 0, 4), (0, 2, 6), (2, -2, 1)],
)
def test_shift_gives_direction_in_the_centre_cell(dx, dy, expected_bin):
    clip = np.stack([_textured_square(), _textured_square(dx, dy)])
    moving, direction = clip_labels(clip, grid=3, bins=8, threshold=0.5)
    assert moving.shape == (1, 9) and direction.shape == (1, 9)
    assert moving[0, 4] == 1, "the centre cell holds the moving square"
    assert direction[0, 4] == expected_bin
    corners = [0, 2, 6, 8]
    assert moving[0, corners].sum() == 0, "far corners stay still"


def test_static_clip_has_no_motion():
    clip = np.stack([_textured_square()] * 3)
    moving, _ = clip_labels(clip)
    assert moving.shape == (2, 9) and moving.sum() == 0


def test_grid_labels_cells_are_row_major():
    flow = np.zeros((6, 6, 2), np.float32)
    flow[4:, 0:2] = (0.0, 3.0)  # bottom-left cell moves down
    moving, direction = grid_labels(flow, grid=3, bins=8, threshold=0.5)
    assert list(moving) == [0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert direction[6] == 6


def test_dataset_labels_in_processes_match_serial():
    clips = np.stack([np.stack([_textured_square(), _textured_square(s, 0)]) for s in (0, 1, 2, 3)] * 20)
    serial = dataset_labels(clips, workers=1)
    parallel = dataset_labels(clips, workers=2)
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])
