"""Stochastic Moving MNIST: bounce physics, labels, determinism, and a few training steps on real digits."""

from __future__ import annotations

import numpy as np
import pytest

from s3vae_tf.config import DataConfig
from s3vae_tf.data.datasets import mnist, smmnist
from s3vae_tf.data.labels.motion import direction_class
from s3vae_tf.data.storage.preparation import clip_rng
from tests.conftest import shared
from tests.data.helpers import train_tiny


@pytest.fixture(scope="module")
def mnist_config(tmp_path_factory) -> DataConfig:
    directory = shared("mnist")
    return DataConfig(
        data_dir=str(tmp_path_factory.mktemp("data")),
        mnist_dir=str(directory),
        mnist_train_images=str(directory / "train-images-idx3-ubyte.approx.gz"),
        train_clips=16,
        test_clips=8,
    )


@pytest.fixture(scope="module")
def test_digits(mnist_config) -> smmnist.Digits:
    files = mnist.resolve_files(mnist_config, mnist_config.data_dir)
    return smmnist.Digits(*mnist.load_split(files, "test"))


def test_digits_bounce_with_a_new_random_velocity():
    mirrored = bounces = 0
    for index in range(300):
        rng = clip_rng(0, "train", index)
        x, y = (int(v) for v in rng.integers(0, 32, 2))
        corners, velocities = smmnist.trajectory(rng, x, y)
        assert corners.min() >= 0 and corners.max() <= 31, "a digit left the 64x64 box"
        np.testing.assert_array_equal(np.diff(corners, axis=0), velocities[:-1])  # every move is the velocity
        assert np.all(np.abs(velocities) <= 4) and np.all(np.abs(velocities).sum(axis=1) > 0)
        for t in range(1, smmnist.FRAMES):
            before, after = velocities[t - 1], velocities[t]
            if np.array_equal(before, after):
                continue
            bounces += 1
            nxt = corners[t] + before  # where the old velocity would have taken it
            for axis in (0, 1):
                if nxt[axis] < 0:
                    assert after[axis] > 0
                elif nxt[axis] > 31:
                    assert after[axis] < 0
            assert np.any((nxt < 0) | (nxt > 31)), "the velocity changed without a bounce"
            reflected = np.where((nxt < 0) | (nxt > 31), -before, before)
            mirrored += int(np.array_equal(after, reflected))
    assert bounces > 100
    assert mirrored < bounces / 4, "after a bounce the direction must be drawn anew, not mirrored"


def test_clip_draws_both_digits_on_their_paths(test_digits):
    for index in range(4):
        frames, static, dynamic = smmnist.generate_clip(clip_rng(7, "test", index), test_digits)
        assert frames.shape == (15, 64, 64, 1) and frames.dtype == np.uint8
        # replay the same random stream: which digits, where they start, their paths
        rng = clip_rng(7, "test", index)
        expected = np.zeros((15, 64, 64), np.int32)
        drawn = []
        for n in range(2):
            chosen = int(rng.integers(len(test_digits)))
            x, y = (int(v) for v in rng.integers(0, 32, 2))
            corners, velocities = smmnist.trajectory(rng, x, y)
            directions = direction_class(velocities[:, 0], velocities[:, 1])
            drawn.append(((x, y), test_digits.labels[chosen], directions))
            for t, (cx, cy) in enumerate(corners):
                expected[t, cy : cy + 32, cx : cx + 32] += test_digits[chosen]
        np.testing.assert_array_equal(frames[..., 0], np.minimum(expected, 255))
        # digit 1 is the one starting further left (then higher); its labels sit in column 0 of both arrays
        for n, (_, label, directions) in enumerate(sorted(drawn, key=lambda d: d[0])):
            assert static[n] == label
            np.testing.assert_array_equal(dynamic[:-1, n], directions[:-1])
            assert dynamic[-1, n] == directions[-2], "the last frame repeats the move into it (the next one is never seen)"
        assert frames.max() == 255 and frames.mean() > 5


def test_clips_are_deterministic_per_seed(test_digits):
    a = smmnist.generate_split(test_digits, 5, seed=0, split="test")
    b = smmnist.generate_split(test_digits, 5, seed=0, split="test")
    c = smmnist.generate_split(test_digits, 5, seed=1, split="test")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["frames"], c["frames"])


def test_prepare_real_digits_and_train(mnist_config, tmp_path):
    from s3vae_tf.data import registry

    splits = registry.load("smmnist", mnist_config)
    train, test = splits["train"], splits["test"]
    assert train["frames"].shape == (16, 15, 64, 64, 1) and test["frames"].shape == (8, 15, 64, 64, 1)
    assert train["static"].shape == (16, 2) and train["dynamic"].shape == (16, 15, 2)
    assert train["flow_moving"].shape == (16, 14, 9) and train["flow_direction"].max() < 8
    assert set(np.unique(train["static"])) <= set(range(10)) and train["dynamic"].max() < 8
    # flow sees the digits move: moving cells in most frame pairs
    assert train["flow_moving"].any(axis=-1).mean() > 0.8
    row = train_tiny("smmnist", mnist_config, tmp_path / "run")
    assert row["dfp_direction"] > 0 and row["recon"] > 0


def test_the_two_digits_are_one_appearance_in_either_order():
    from s3vae_tf.data import registry

    pairs = np.array([[7, 3], [3, 7], [1, 1]])
    np.testing.assert_array_equal(registry.get("smmnist").appearance_rows(pairs), [[3, 7], [3, 7], [1, 1]])
    np.testing.assert_array_equal(pairs, [[7, 3], [3, 7], [1, 1]])  # a copy: the split's labels stay as they are
    sprite = np.array([[3, 1, 0, 2]])
    np.testing.assert_array_equal(registry.get("sprite").appearance_rows(sprite), sprite)  # ordered heads stay in order
