"""tf.data pipeline: batch contents, positive orders, determinism across resumes."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s3vae_tf.data.pipeline import ClipSource, evaluation_dataset, training_dataset


def _arrays(n=10, t=4):
    rng = np.random.default_rng(0)
    return {
        "frames": rng.integers(0, 256, (n, t, 64, 64, 3), dtype=np.uint8),
        "static": rng.integers(0, 6, (n, 4)).astype(np.int32),
        "dynamic": rng.integers(0, 9, (n, t, 1)).astype(np.int32),
        "flow_moving": rng.integers(0, 2, (n, t - 1, 9)).astype(np.uint8),
        "flow_direction": rng.integers(0, 8, (n, t - 1, 9)).astype(np.uint8),
    }


def test_batch_contents():
    arrays = _arrays()
    source = ClipSource(arrays, 256.0)
    batch = next(iter(training_dataset(source, batch_size=4, steps_per_epoch=2, first_epoch=0, epochs=1, seed=0)))
    assert batch["frames"].shape == (4, 4, 64, 64, 3) and batch["frames"].dtype == tf.float32
    assert set(batch) == {"frames", "positive_order", "static_labels", "dynamic_labels", "flow_moving", "flow_direction"}
    order = batch["positive_order"].numpy()
    assert all(sorted(row) == [0, 1, 2, 3] for row in order), "each positive order is a permutation"
    # frames are uint8 / 256 and labels travel with their clip
    frames = batch["frames"].numpy()
    for i in range(4):
        j = int(np.argmin([np.abs(frames[i] - arrays["frames"][k] / 256.0).max() for k in range(10)]))
        np.testing.assert_allclose(frames[i], arrays["frames"][j] / 256.0, atol=0)
        np.testing.assert_array_equal(batch["static_labels"].numpy()[i], arrays["static"][j])


def test_epochs_are_reshuffled_and_cover_the_data():
    source = ClipSource(_arrays(n=8), 256.0)
    ds = training_dataset(source, batch_size=4, steps_per_epoch=2, first_epoch=0, epochs=2, seed=1)
    batches = [b["static_labels"].numpy() for b in ds]
    assert len(batches) == 4
    assert not np.array_equal(np.concatenate(batches[:2]), np.concatenate(batches[2:]))


def test_resumed_run_sees_the_same_batches():
    source = ClipSource(_arrays(), 256.0)
    full = list(training_dataset(source, 4, 2, first_epoch=0, epochs=3, seed=5))
    resumed = list(training_dataset(source, 4, 2, first_epoch=1, epochs=3, seed=5))
    assert len(resumed) == 4
    for a, b in zip(full[2:], resumed):
        np.testing.assert_array_equal(a["frames"].numpy(), b["frames"].numpy())
        np.testing.assert_array_equal(a["positive_order"].numpy(), b["positive_order"].numpy())


def test_evaluation_dataset_is_fixed_order():
    arrays = _arrays(n=10)
    ds, steps = evaluation_dataset(ClipSource(arrays, 256.0), batch_size=4)
    assert steps == 2
    first = next(iter(ds))["frames"].numpy()
    np.testing.assert_allclose(first, arrays["frames"][:4] / 256.0)
