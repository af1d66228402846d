"""dSprites: the renderer against the real frames, the sequences' factors and labels, a few training steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageSequence

from s3vae_tf.config import DataConfig
from s3vae_tf.data.datasets import dsprites
from s3vae_tf.data.labels.motion import STEPS
from s3vae_tf.data.storage.preparation import clip_rng
from tests.conftest import shared
from tests.data.helpers import train_tiny


@pytest.fixture(scope="module")
def gif_frames() -> np.ndarray:
    with Image.open(shared("dsprites", "dsprites.gif")) as im:
        return np.stack([np.asarray(f.convert("L")) > 127 for f in ImageSequence.Iterator(im)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_renderer_matches_the_real_frames(gif_frames):
    factors = dsprites.reference_gif_factors()
    assert len(factors) == len(gif_frames) == 320
    ious = np.array([_iou(dsprites.render_factors(*f), frame) for f, frame in zip(factors, gif_frames)])
    shapes = np.array([f[0] for f in factors])
    print(f"dSprites renderer IoU vs dsprites.gif: mean {ious.mean():.4f}, min {ious.min():.4f}; "
          + ", ".join(f"{name} {ious[shapes == i].mean():.4f}" for i, name in enumerate(dsprites.SHAPES)))
    assert ious.mean() >= 0.9
    for i in range(3):
        assert ious[shapes == i].mean() >= 0.9, dsprites.SHAPES[i]
    assert ious.min() >= 0.85
    # the heart's position traversals were not used to fit the geometry: they must match as well
    assert ious[58:186].mean() >= 0.9


def test_geometry_read_off_the_original():
    areas = [int(dsprites.render_factors(0, s, 0, 0, 0).sum()) for s in range(6)]
    assert areas == [100, 144, 196, 256, 324, 400]
    rows, cols = np.nonzero(dsprites.render_factors(1, 5, 0, 0, 0))
    assert (cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) == (26, 14)
    rows, cols = np.nonzero(dsprites.render_factors(2, 5, 0, 0, 0))
    assert cols.max() - cols.min() + 1 == 20 and rows.mean() < 15.5  # lobes up: the mass sits above the centre
    # position: one step is 32/31 px; the far corner is 32 px away
    a, b = dsprites.render_factors(0, 5, 0, 0, 0), dsprites.render_factors(0, 5, 0, 31, 31)
    np.testing.assert_array_equal(np.roll(a, (32, 32), axis=(0, 1)), b)


def _axis_angle(mask: np.ndarray) -> float:
    """Long-axis angle (degrees, counter-clockwise on screen, in [0, 180)) from second moments."""
    rows, cols = np.nonzero(mask)
    x, y = cols - cols.mean(), -(rows - rows.mean())
    return math.degrees(0.5 * math.atan2(2 * (x * y).mean(), (x * x).mean() - (y * y).mean())) % 180


def test_orientation_turns_counter_clockwise():
    angles = [_axis_angle(dsprites.render_factors(1, 5, k, 0, 0)) for k in range(6)]
    assert angles[0] == pytest.approx(0, abs=1)
    assert np.allclose(np.diff(angles), 360 / 39, atol=3), angles


def test_clips_keep_static_factors_and_label_their_motion():
    for index in range(12):
        frames, static, dynamic = dsprites.generate_clip(clip_rng(5, "train", index))
        shape, scale, colour = static
        assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
        on = frames.any(axis=-1)
        # one colour, the clip's, on every lit pixel; the sprite's size is that of its static scale
        np.testing.assert_array_equal(frames[on], np.broadcast_to(dsprites.COLOURS[colour][1], (int(on.sum()), 3)))
        reference = dsprites.render_factors(shape, scale, 0, 0, 0).sum()
        assert np.all(np.abs(on.sum(axis=(1, 2)) / reference - 1) < 0.2)
        centres = np.array([np.argwhere(frame)[:, ::-1].mean(axis=0) for frame in on])  # (x, y) pixels
        for t in range(7):
            step = np.array(STEPS[dynamic[t, 0]]) * dsprites.SPEED * 32 / 31
            moved = centres[t + 1] - centres[t]
            assert np.abs(moved - step).max() < 2.0, (index, t, moved, step)  # rotation shifts the centroid a little
        # the step after the last frame is never seen: its labels repeat the step into it
        np.testing.assert_array_equal(dynamic[7], dynamic[6])


def test_rotation_labels_follow_the_ellipse():
    """Ellipse clips: between frames the long axis turns by +-18.5 degrees or stays, as labelled."""
    seen = set()
    for index in range(200):
        rng = clip_rng(1, "test", index)
        frames, static, dynamic = dsprites.generate_clip(rng)
        if static[0] != 1:
            continue
        angles = [_axis_angle(f.any(axis=-1)) for f in frames]
        for t in range(7):
            turn = (angles[t + 1] - angles[t] + 90) % 180 - 90
            expected = (dynamic[t, 1] - 1) * dsprites.ROTATION_STEP * 360 / 39
            assert turn == pytest.approx(expected, abs=6), (index, t)
            seen.add(int(dynamic[t, 1]))
        if len(seen) == 3 and index > 40:
            break
    assert seen == {0, 1, 2}


def test_clips_are_deterministic_per_seed():
    a = dsprites.generate_split(6, seed=3, split="train")
    b = dsprites.generate_split(6, seed=3, split="train")
    c = dsprites.generate_split(6, seed=4, split="train")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["frames"], c["frames"])
    # the sprite stays inside the canvas: the border rows and columns are never lit
    frames = a["frames"]
    assert not frames[:, :, [0, -1]].any() and not frames[:, :, :, [0, -1]].any()


def test_prepare_caches_and_trains(tmp_path):
    from s3vae_tf.data import registry

    config = DataConfig(data_dir=str(tmp_path), train_clips=12, test_clips=4, data_seed=2)
    splits = registry.load("dsprites", config)
    train = splits["train"]
    assert train["frames"].shape == (12, 8, 64, 64, 3) and splits["test"]["frames"].shape == (4, 8, 64, 64, 3)
    assert train["flow_moving"].shape == (12, 7, 9) and train["dynamic"].shape == (12, 8, 2)
    assert (tmp_path / "dsprites-12-4-seed2" / "manifest.json").exists()
    # the flow grid sees the sprite move: some cell moves in almost every frame pair
    assert train["flow_moving"].any(axis=-1).mean() > 0.8
    spec = registry.get("dsprites")
    assert spec.static_heads == (("shape", 3), ("scale", 6), ("colour", 6))
    row = train_tiny("dsprites", config, tmp_path / "run")
    assert row["dfp_moving"] > 0 and row["loss"] > 0
