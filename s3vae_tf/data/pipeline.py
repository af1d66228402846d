"""tf.data pipelines over prepared arrays: what a training or evaluation step consumes.

Each batch is a dict:

* ``frames``: float32 (B, T, H, W, C) in [0, 255 / pixel_scale];
* ``positive_order``: int32 (B, T), a random permutation of the frames per clip. The positive clip of
  the triplet loss is ``tf.gather(frames, positive_order, batch_dims=1)``: the pipeline hands over the
  order instead of a second copy of the clip, which halves its memory traffic and lets the model reuse
  the anchor's conv features. Negatives are other clips of the same batch.
* ``flow_moving`` / ``flow_direction`` (B, T-1, G*G) or ``landmarks`` (B, T, 3): DFP labels;
* ``static_labels`` (B, S) and ``dynamic_labels`` (B, T, D): ground truth (baseline-sv, evaluation);
* ``partner_frames`` (B, T, H, W, C), only from a source made with ``partners=True``: for each clip another
  clip with the same static labels (the same character in another motion, where the split has one), the
  ground-truth positive of baseline-sv's triplet.

Order and permutations are stateless functions of (seed, epoch, step): a resumed run sees exactly the
batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf

from s3vae_tf.data.storage.cache import ALIGNMENT

_LABEL_KEYS = {
    "static": "static_labels",
    "dynamic": "dynamic_labels",
    "flow_moving": "flow_moving",
    "flow_direction": "flow_direction",
    "landmarks": "landmarks",
}


def host_tensor(array: np.ndarray) -> tf.Tensor:
    """A tensor over ``array``'s own memory (DLPack) when it can be shared, so a split is held once.

    ``tf.constant`` of a large array costs twice its size for as long as the tensor lives (measured: +1.7 GB
    for Sprites' 0.82 GiB of training frames). Sharing needs a writable, C-contiguous, 64-byte aligned
    buffer (``ArrayCache`` loads such arrays); the tensor then keeps the buffer alive, and the array must not
    be changed afterwards. Any other array is copied.
    """
    if array.size and array.flags.c_contiguous and array.flags.writeable and array.ctypes.data % ALIGNMENT == 0:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(np.ascontiguousarray(array))


def partner_table(static: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clips grouped by their static-label rows, for drawing a same-appearance partner per clip.

    Returns (members, start, count, rank): ``members`` lists clip indices group by group, clip i's group
    occupies ``members[start[i] : start[i] + count[i]]`` and i itself sits at position ``start[i] + rank[i]``.
    """
    static = np.asarray(static).reshape(len(static), -1)
    _, group = np.unique(static, axis=0, return_inverse=True)
    group = group.reshape(-1)
    members = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.empty(len(group), np.int64)
    position[members] = np.arange(len(group))
    start = offsets[group]
    return members.astype(np.int32), start.astype(np.int32), sizes[group].astype(np.int32), (position - start).astype(np.int32)


class ClipSource:
    """Prepared arrays of one split held once as tensors, gathered into batches on demand.

    ``partners`` adds ``partner_frames`` to each batch (needs the split's static labels).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], pixel_scale: float, partners: bool = False):
        if "frames" not in arrays or len(arrays["frames"]) == 0:
            raise ValueError("a split needs a non-empty 'frames' array")
        self.size = int(len(arrays["frames"]))
        self.frames_per_clip = int(arrays["frames"].shape[1])
        self.pixel_scale = float(pixel_scale)
        self.tensors = {"frames": host_tensor(arrays["frames"])}
        for key, name in _LABEL_KEYS.items():
            if key in arrays:
                self.tensors[name] = host_tensor(arrays[key])
        self.partners = None
        if partners:
            if "static" not in arrays:
                raise ValueError("partners need the split's static labels")
            self.partners = tuple(tf.constant(a) for a in partner_table(arrays["static"]))

    def partner_indices(self, indices: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """For each clip, another clip of its static-label group drawn from ``seed`` (itself when alone)."""
        members = self.partners[0]
        start, count, rank = (tf.gather(t, indices) for t in self.partners[1:])
        others = tf.maximum(count - 1, 1)
        draw = tf.random.stateless_uniform(tf.shape(indices), seed=seed, maxval=2**30, dtype=tf.int32, alg="philox") % others
        # Skip the clip itself: draws at or after its own rank move one place on.
        offset = tf.where((count > 1) & (draw >= rank), draw + 1, tf.where(count > 1, draw, rank))
        return tf.gather(members, start + offset)

    def batch(self, indices: tf.Tensor, order_seed: tf.Tensor) -> dict[str, tf.Tensor]:
        """The clips at ``indices`` as a training batch, with positive orders drawn from ``order_seed``."""
        out = {name: tf.gather(t, indices) for name, t in self.tensors.items()}
        out["frames"] = tf.cast(out["frames"], tf.float32) / self.pixel_scale
        if "static_labels" in out:
            out["static_labels"] = tf.cast(out["static_labels"], tf.int32)
            out["dynamic_labels"] = tf.cast(out["dynamic_labels"], tf.int32)
        keys = tf.random.stateless_uniform((tf.shape(indices)[0], self.frames_per_clip), seed=order_seed, alg="philox")
        out["positive_order"] = tf.argsort(keys, axis=1, stable=True, direction="ASCENDING")
        if self.partners is not None:
            # The next step's order seed: its positive orders are unused where partners are (baseline-sv), so
            # the shared stream couples nothing; it is the stream the measured baseline-sv row was trained with.
            partner = self.partner_indices(indices, order_seed + tf.constant([0, 1], order_seed.dtype))
            out["partner_frames"] = tf.cast(tf.gather(self.tensors["frames"], partner), tf.float32) / self.pixel_scale
        return out


def _without_graph_rewrites(ds: tf.data.Dataset) -> tf.data.Dataset:
    """tf.data's default static optimisations serialise the dataset graph, captured split tensors included,
    which copies the whole split (measured: +0.86 GB for Sprites). The pipeline is already parallel and
    prefetched (autotuned), and is hundreds of times faster than a training step without them."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return ds.with_options(options)


def training_dataset(
    source: ClipSource,
    batch_size: int,
    steps_per_epoch: int,
    first_epoch: int,
    epochs: int,
    seed: int,
) -> tf.data.Dataset:
    """Batches for epochs ``first_epoch .. epochs - 1``, ``steps_per_epoch`` each, reshuffled per epoch."""
    n, per_epoch = source.size, steps_per_epoch * batch_size
    repeats = -(-per_epoch // n)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        perms = [
            tf.argsort(tf.random.stateless_uniform((n,), seed=tf.stack([tf.cast(seed, tf.int64), epoch * 1009 + r]), alg="philox"))
            for r in range(repeats)
        ]
        indices = tf.reshape(tf.concat(perms, axis=0)[:per_epoch], (steps_per_epoch, batch_size))
        steps = tf.data.Dataset.from_tensor_slices(indices).enumerate()
        return steps.map(lambda step, idx: (epoch, step, idx))

    def to_batch(epoch, step, idx):
        return source.batch(idx, tf.stack([tf.cast(seed, tf.int64) + 7919, epoch * 1_000_003 + step]))

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    return _without_graph_rewrites(ds)


def evaluation_dataset(source: ClipSource, batch_size: int, steps: int = 0, seed: int = 0) -> tuple[tf.data.Dataset, int]:
    """Fixed-order batches over the split (``steps`` of them, 0 = all full batches) and the step count."""
    batch_size = min(batch_size, source.size)
    available = source.size // batch_size
    steps = min(steps, available) if steps else available
    indices = tf.reshape(tf.range(steps * batch_size), (steps, batch_size))
    ds = tf.data.Dataset.from_tensor_slices(indices).enumerate()
    ds = ds.map(
        lambda step, idx: source.batch(idx, tf.stack([tf.cast(seed, tf.int64) + 104729, step])),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return _without_graph_rewrites(ds.prefetch(tf.data.AUTOTUNE)), steps
