"""tf.data pipeline: batch contents, positive orders, determinism across resumes."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from s3vae_tf.data.pipeline import ClipSource, evaluation_dataset, host_tensor, training_dataset


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


def _aligned(array: np.ndarray) -> np.ndarray:
    buffer = np.empty(array.nbytes + 64, np.uint8)
    offset = (-buffer.ctypes.data) % 64
    out = buffer[offset : offset + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def test_host_tensor_shares_an_aligned_arrays_memory():
    """A split is held once: the tensor is a view of the array (a write to the array shows through)."""
    array = _aligned(np.arange(4 * 3 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 3, 2, 2, 3))
    tensor = host_tensor(array)
    np.testing.assert_array_equal(tensor.numpy(), array)
    array[0, 0, 0, 0, 0] = 200
    assert int(tensor[0, 0, 0, 0, 0]) == 200


def test_host_tensor_copies_what_it_cannot_share():
    array = _aligned(np.arange(24, dtype=np.int32).reshape(4, 6))
    readonly = _aligned(array)
    readonly.flags.writeable = False
    unaligned = np.empty(array.nbytes + 1, np.uint8)[1:].view(np.uint8).reshape(-1)[: array.nbytes]
    unaligned[...] = array.view(np.uint8).ravel()
    for source in (readonly, array[:, ::2], unaligned):
        tensor = host_tensor(source)
        np.testing.assert_array_equal(tensor.numpy(), source)
        source_copy = source.copy()
        if source.flags.writeable:
            source[(0,) * source.ndim] += 1
        np.testing.assert_array_equal(tensor.numpy(), source_copy)


def test_clips_gathered_from_unaligned_arrays_are_exact():
    arrays = _arrays()
    unaligned = np.empty(arrays["frames"].nbytes + 1, np.uint8)[1:].reshape(arrays["frames"].shape)
    unaligned[...] = arrays["frames"]
    source = ClipSource({**arrays, "frames": unaligned}, 256.0)
    batch = source.batch(tf.constant([3, 7]), tf.constant([0, 0], tf.int64))
    np.testing.assert_array_equal(batch["frames"].numpy() * 256.0, arrays["frames"][[3, 7]])


def _resident_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_split_is_held_once_through_the_training_pipeline():
    """No copy of the split when the source is built or when an iterator starts (tf.data graph rewrites
    would serialise the captured tensor: a full copy)."""
    frames = _aligned(np.ones((1600, 4, 64, 64, 3), np.uint8))  # 78.6 MB, resident
    arrays = {**_arrays(1600), "frames": frames}
    before = _resident_bytes()
    source = ClipSource(arrays, 256.0)
    batch = next(iter(training_dataset(source, batch_size=8, steps_per_epoch=2, first_epoch=0, epochs=1, seed=0)))
    assert float(tf.reduce_max(batch["frames"])) == 1 / 256.0
    grown = _resident_bytes() - before
    assert grown < 0.5 * frames.nbytes, f"resident memory grew by {grown / 1e6:.1f} MB for a {frames.nbytes / 1e6:.1f} MB split"


def test_partners_share_the_static_labels_and_are_other_clips():
    """baseline-sv's ground-truth positives: same static labels, never the clip itself when its group has
    another member; a clip alone in its group is its own partner."""
    arrays = _arrays(n=12)
    arrays["static"] = np.array([[k % 3, 0, 0, 0] for k in range(11)] + [[5, 5, 5, 5]], np.int32)
    arrays["frames"][:, :, 0, 0, 0] = np.arange(12, dtype=np.uint8)[:, None]  # each clip's id in a pixel
    source = ClipSource(arrays, 256.0, partners=True)
    seen = set()
    for batch in training_dataset(source, batch_size=12, steps_per_epoch=4, first_epoch=0, epochs=3, seed=2):
        ids = np.rint(batch["frames"].numpy()[:, 0, 0, 0, 0] * 256).astype(int)
        partners = np.rint(batch["partner_frames"].numpy()[:, 0, 0, 0, 0] * 256).astype(int)
        for clip, partner in zip(ids, partners):
            np.testing.assert_array_equal(arrays["static"][clip], arrays["static"][partner])
            assert (partner == clip) == (clip == 11), (clip, partner)
            seen.add((clip, partner))
    # partners are drawn, not fixed: clip 0 meets more than one of its group (0, 3, 6, 9) over the batches
    assert len({p for c, p in seen if c == 0}) > 1


def test_a_source_without_partners_yields_none():
    batch = next(iter(training_dataset(ClipSource(_arrays(), 256.0), 4, 1, 0, 1, seed=0)))
    assert "partner_frames" not in batch
