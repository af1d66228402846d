"""The judge: the classifier that scores generated clips (trained by ``python -m s3vae_tf.judge --dataset NAME``).

A judge is trained fully supervised on real clips of one dataset and then reads clips a model generated
(see :mod:`s3vae_tf.evaluation.protocols`). Its architecture follows the original evaluation code: a
DCGAN-64 frame encoder, a BiLSTM over the frames, and one softmax head per label of the dataset
(``DatasetSpec.static_heads`` and ``dynamic_heads``). Static heads and dynamic labels that are constant
within every clip (Sprites' action, MUG's expression) read the time-averaged BiLSTM output; dynamic labels
that change over time get a prediction per frame, and then each frame's encoder also sees the difference
image of the move its label describes (``frame_pairs``), so motion is read where it happens.

Heads whose labels form a set (``DatasetSpec.label_sets``: SMMNIST's two digits and their two directions)
are trained with the loss of the best assignment of heads to labels and read the same way
(:func:`align_sets`): a judge is right when it reads the pair, in either order.

Generated clips are blurrier and paler than real ones; a judge trained only on crisp clips misreads them.
``--blur`` and ``--contrast`` train it on real clips degraded that way too (:class:`ClipAugmentation`).

A trained judge is saved as ``<data root>/judges/<dataset>.keras`` (or ``--out``) with a report
``<same name>.json`` holding its test accuracy per head; both are replaced atomically. How it is trained:
:mod:`s3vae_tf.evaluation.judge_training`; the command: :mod:`s3vae_tf.judge`.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.metrics import accuracy
from s3vae_tf.io import atomic_write_text
from s3vae_tf.models.encoder import FrameEncoder

JUDGES = "judges"
REQUIRED_ACCURACY = 0.99  # below this on real test clips, the paper's metrics computed with the judge mean little


def default_path(data_root: Path, dataset: str) -> Path:
    """Where ``python -m s3vae_tf.judge`` saves, and ``evaluate`` looks for, the judge of ``dataset``."""
    return Path(data_root) / JUDGES / f"{dataset}.keras"


def report_path(judge_path: Path) -> Path:
    return Path(judge_path).with_suffix(".json")


def label_heads(spec, dynamic: np.ndarray) -> list[dict]:
    """The judge's heads for a dataset: static heads, then dynamic ones; a dynamic head is per frame unless
    its label is constant within every clip of ``dynamic`` (N, T, D)."""
    heads = [
        {"name": n, "classes": int(k), "factor": "static", "column": i, "per_frame": False}
        for i, (n, k) in enumerate(spec.static_heads)
    ]
    for i, (name, classes) in enumerate(spec.dynamic_heads):
        varies = bool(np.any(dynamic[..., i] != dynamic[:, :1, i])) if len(dynamic) else False
        heads.append({"name": name, "classes": int(classes), "factor": "dynamic", "column": i, "per_frame": varies})
    names = [h["name"] for h in heads]
    if len(set(names)) != len(names):
        raise UsageError(f"dataset {spec.name!r} has label heads with the same name: {', '.join(names)}")
    return heads


def head_labels(heads: Sequence[Mapping], static: np.ndarray, dynamic: np.ndarray) -> dict[str, np.ndarray]:
    """Ground truth per head: (N,) for clip-level heads, (N, T) for per-frame heads."""
    out = {}
    for head in heads:
        if head["factor"] == "static":
            out[head["name"]] = np.asarray(static[:, head["column"]])
        elif head["per_frame"]:
            out[head["name"]] = np.asarray(dynamic[:, :, head["column"]])
        else:
            out[head["name"]] = np.asarray(dynamic[:, 0, head["column"]])
    return out


def as_samples(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels as rows of samples: a per-frame head's frames count as samples."""
    probs = np.asarray(probs)
    return probs.reshape(-1, probs.shape[-1]), np.asarray(labels).reshape(-1)


def align_sets(probs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
               label_sets: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """``probs`` with the heads of each set reassigned, per sample (per frame for per-frame heads), to the
    labels they read best: the assignment that maximises sum_i log p_head(i)(label_i). Heads outside the
    sets, and sets whose heads are not all in ``probs``, are returned as they are."""
    out = {name: np.asarray(p) for name, p in probs.items()}
    for group in label_sets:
        if not all(name in out for name in group):
            continue
        stacked = np.stack([out[name] for name in group])  # (k, ..., K)
        truth = np.stack([np.asarray(labels[name]) for name in group])  # (k, ...)
        logp = np.log(np.clip(np.take_along_axis(stacked[None], truth[:, None, ..., None], -1)[..., 0], 1e-12, None))
        # logp[i, j] = log p_head(j)(label_i); score each assignment of heads to labels
        orders = list(itertools.permutations(range(len(group))))
        scores = np.stack([sum(logp[i, order[i]] for i in range(len(group))) for order in orders])
        best = np.argmax(scores, axis=0)  # (...)
        for i, name in enumerate(group):
            source = np.array([order[i] for order in orders])[best]  # which head reads label i, per sample
            out[name] = np.take_along_axis(stacked, source[None, ..., None], 0)[0]
    return out


@keras.saving.register_keras_serializable("s3vae_tf")
class ClipAugmentation(layers.Layer):
    """Training-only degradation of whole clips, so the judge also reads the soft clips a decoder draws.

    Per clip: a Gaussian blur of sigma drawn from {0, blur/3, 2 blur/3, blur} pixels, then the contrast about
    the clip's mean pixel scaled by a factor uniform in [1 - contrast, 1]. At inference it is the identity.
    """

    LEVELS = 4

    def __init__(self, blur: float = 0.0, contrast: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.blur, self.contrast, self.seed = float(blur), float(contrast), int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, frames, training: bool = False):
        if not training:
            return frames
        batch = ops.shape(frames)[0]
        if self.blur > 0:
            level = keras.random.randint((batch,), 0, self.LEVELS, seed=self.seed_generator)
            versions = [frames] + [self._blurred(frames, self.blur * k / (self.LEVELS - 1)) for k in range(1, self.LEVELS)]
            pick = ops.one_hot(level, self.LEVELS, dtype=frames.dtype)  # (B, levels)
            frames = sum(pick[:, k, None, None, None, None] * versions[k] for k in range(self.LEVELS))
        if self.contrast > 0:
            factor = keras.random.uniform((batch, 1, 1, 1, 1), 1.0 - self.contrast, 1.0, seed=self.seed_generator)
            mean = ops.mean(frames, axis=(1, 2, 3), keepdims=True)
            frames = mean + factor * (frames - mean)
        return frames

    @staticmethod
    def _blurred(frames, sigma: float):
        """``frames`` (B, T, H, W, C) blurred by a separable Gaussian of ``sigma`` pixels (edges repeated)."""
        radius = max(1, int(np.ceil(2 * sigma)))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps = (taps / taps.sum()).astype(np.float32)
        shape = ops.shape(frames)
        channels = frames.shape[-1]
        flat = ops.reshape(frames, (-1, shape[2], shape[3], channels))
        flat = tf.pad(flat, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
        rows = np.tile(taps.reshape(-1, 1, 1, 1), (1, 1, channels, 1))
        cols = np.tile(taps.reshape(1, -1, 1, 1), (1, 1, channels, 1))
        flat = tf.nn.depthwise_conv2d(flat, rows, [1, 1, 1, 1], "VALID")
        flat = tf.nn.depthwise_conv2d(flat, cols, [1, 1, 1, 1], "VALID")
        return ops.reshape(flat, shape)

    def get_config(self):
        return {**super().get_config(), "blur": self.blur, "contrast": self.contrast, "seed": self.seed}


@keras.saving.register_keras_serializable("s3vae_tf")
class Judge(keras.Model):
    """Frame conv encoder + BiLSTM + one linear head per label: frames (B, T, 64, 64, C) -> logits.

    Args:
        heads: ``[{"name", "classes", "factor", "column", "per_frame"}, ...]`` (see :func:`label_heads`).
        dataset: the dataset it judges (checked against a run's dataset by ``evaluate``).
        frames, channels: clip shape.
        filters, conv_dim: frame encoder width and feature size; hidden_dim: BiLSTM width per direction.
        label_sets: groups of head names whose labels are a set (see :func:`align_sets`).
        frame_pairs: give each frame's encoder the difference image of the move to the next frame too
            (the last frame: of the move into it), for per-frame motion heads.
        blur, contrast: the training augmentation (:class:`ClipAugmentation`); 0 turns each off.
    """

    def __init__(self, heads, dataset: str = "", frames: int = 8, channels: int = 3, filters: int = 16,
                 conv_dim: int = 128, hidden_dim: int = 128, label_sets=(), frame_pairs: bool = False,
                 blur: float = 0.0, contrast: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.heads = [dict(h) for h in heads]
        self.dataset, self.frames, self.channels = dataset, int(frames), int(channels)
        self.filters, self.conv_dim, self.hidden_dim = int(filters), int(conv_dim), int(hidden_dim)
        self.label_sets = [list(group) for group in label_sets]
        self.frame_pairs = bool(frame_pairs)
        self.blur, self.contrast = float(blur), float(contrast)
        # Only a judge trained with augmentation has the layer (its seed state), so judges saved without it load.
        self.augmentation = ClipAugmentation(blur, contrast, name="augmentation") if blur > 0 or contrast > 0 else None
        self.encoder = FrameEncoder(self.filters, self.conv_dim, synchronized_bn=False, name="encoder")
        self.rnn = layers.Bidirectional(layers.LSTM(self.hidden_dim, return_sequences=True), name="bilstm")
        self.head_layers = [layers.Dense(h["classes"], name=f"head_{h['name']}") for h in self.heads]
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_trackers = [keras.metrics.Mean(name=f"acc_{h['name']}") for h in self.heads]

    def build(self, input_shape=None):
        self.encoder.build((None, 64, 64, self.channels * (2 if self.frame_pairs else 1)))
        self.rnn.build((None, self.frames, self.conv_dim))
        for head, dense in zip(self.heads, self.head_layers):
            dense.build((None, self.frames, 2 * self.hidden_dim) if head["per_frame"] else (None, 2 * self.hidden_dim))
        self.built = True

    def call(self, frames, training: bool = False):
        """{head name: logits}: (B, K) for clip-level heads, (B, T, K) for per-frame heads."""
        if self.augmentation is not None:
            frames = self.augmentation(frames, training=training)
        if self.frame_pairs:
            moves = frames[:, 1:] - frames[:, :-1]
            frames = ops.concatenate([frames, ops.concatenate([moves, moves[:, -1:]], axis=1)], axis=-1)
        flat = ops.reshape(frames, (-1, 64, 64, self.channels * (2 if self.frame_pairs else 1)))
        features = ops.reshape(self.encoder(flat, training=training), (-1, self.frames, self.conv_dim))
        sequence = self.rnn(features, training=training)
        pooled = ops.mean(sequence, axis=1)
        return {h["name"]: dense(sequence if h["per_frame"] else pooled) for h, dense in zip(self.heads, self.head_layers)}

    def probabilities(self, frames):
        """{head name: p(y|x)}: softmax of :meth:`call`."""
        return {name: ops.softmax(logits, axis=-1) for name, logits in self(frames, training=False).items()}

    @property
    def metrics(self):
        return [self.loss_tracker, *self.accuracy_trackers]

    def _step(self, data, training: bool):
        """Cross-entropy summed over heads; a set of heads takes, per sample, its best assignment to labels."""
        labels = self._labels(data)
        logits = self(data["frames"], training=training)
        loss = 0.0
        reads = {}  # head name -> the logits that read its label (a set's heads reassigned)
        grouped = {name for group in self.label_sets for name in group}
        for group in self.label_sets:
            orders = list(itertools.permutations(range(len(group))))
            ce = [[tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[group[i]], logits=logits[group[j]])
                   for j in range(len(group))] for i in range(len(group))]  # ce[i][j]: head j reading label i
            totals = tf.stack([tf.add_n([ce[i][order[i]] for i in range(len(group))]) for order in orders])
            loss += tf.reduce_mean(tf.reduce_min(totals, axis=0))
            pick = tf.one_hot(tf.argmin(totals, axis=0), len(orders), dtype=logits[group[0]].dtype)  # (..., orders)
            for i, name in enumerate(group):
                reads[name] = tf.add_n([pick[..., o, None] * logits[group[order[i]]] for o, order in enumerate(orders)])
        for head in self.heads:
            if head["name"] not in grouped:
                reads[head["name"]] = logits[head["name"]]
                loss += tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[head["name"]],
                                                                                      logits=logits[head["name"]]))
        for head, tracker in zip(self.heads, self.accuracy_trackers):
            y, out = labels[head["name"]], reads[head["name"]]
            tracker.update_state(tf.reduce_mean(tf.cast(tf.equal(tf.argmax(out, -1, output_type=tf.int32), y), tf.float32)))
        return loss

    def _labels(self, data):
        out = {}
        for h in self.heads:
            if h["factor"] == "static":
                out[h["name"]] = data["static_labels"][:, h["column"]]
            else:
                per_frame = data["dynamic_labels"][:, :, h["column"]]
                out[h["name"]] = per_frame if h["per_frame"] else per_frame[:, 0]
        return out

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = self._step(data, training=True)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        self.loss_tracker.update_state(self._step(data, training=False))
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "dataset": self.dataset,
            "frames": self.frames,
            "channels": self.channels,
            "filters": self.filters,
            "conv_dim": self.conv_dim,
            "hidden_dim": self.hidden_dim,
            "label_sets": self.label_sets,
            "frame_pairs": self.frame_pairs,
            "blur": self.blur,
            "contrast": self.contrast,
        }


def build_judge(spec, heads: Sequence[Mapping], filters: int = 16, conv_dim: int = 128, hidden_dim: int = 128,
                blur: float = 0.0, contrast: float = 0.0):
    """A judge for ``spec`` with every weight created; it sees frame pairs when some head reads each frame."""
    judge = Judge(heads, spec.name, spec.frames, spec.channels, filters, conv_dim, hidden_dim, label_sets=spec.label_sets,
                  frame_pairs=any(h["per_frame"] for h in heads), blur=blur, contrast=contrast, name="judge")
    judge.build()
    return judge


def predict(judge, frames: np.ndarray, batch_size: int = 128, pixel_scale: float = 1.0) -> dict[str, np.ndarray]:
    """p(y|x) per head for clips ``frames`` (N, T, H, W, C; uint8 with ``pixel_scale`` or float), in batches."""
    step = tf.function(judge.probabilities, reduce_retracing=True)
    parts: dict[str, list] = {}
    for start in range(0, len(frames), batch_size):
        batch = np.asarray(frames[start : start + batch_size], np.float32) / pixel_scale
        for name, probs in step(tf.constant(batch)).items():
            parts.setdefault(name, []).append(probs.numpy())
    return {name: np.concatenate(p) for name, p in parts.items()}


def real_accuracy(judge, arrays: Mapping[str, np.ndarray], pixel_scale: float, batch_size: int = 128) -> dict[str, float]:
    """The judge's accuracy per head on real clips (``frames``, ``static``, ``dynamic`` arrays)."""
    labels = head_labels(judge.heads, arrays["static"], arrays["dynamic"])
    probs = align_sets(predict(judge, arrays["frames"], batch_size, pixel_scale), labels, judge_sets(judge))
    return {name: accuracy(*as_samples(probs[name], labels[name])) for name in probs}


def judge_sets(judge) -> list[list[str]]:
    """The judge's groups of set-valued heads (none for judges that predate them, or stand-ins)."""
    return list(getattr(judge, "label_sets", None) or [])


def save_judge(judge, report: Mapping, path: Path) -> None:
    """Write the judge (``.keras``) and its report (``.json``), each replaced in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staged = scratch / path.name
        judge.save(staged)  # Keras needs the .keras name, so stage in a directory beside the target
        with open(staged, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staged, path)
    finally:
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    atomic_write_text(report_path(path), json.dumps(report, indent=2) + "\n")


def load_judge(path: Path):
    """(judge, report) saved by :func:`save_judge`, or a one-line error saying how to make one."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no judge at {path}; train one with python -m s3vae_tf.judge (or pass --judge PATH)")
    try:
        judge = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # a corrupt archive fails in many ways (zip, h5, json, config)
        raise UsageError(f"cannot read judge {path}: {exc.__class__.__name__}: {exc}") from None
    if not isinstance(judge, Judge):
        raise UsageError(f"{path} is not a judge saved by python -m s3vae_tf.judge")
    try:
        report = json.loads(report_path(path).read_text())
    except (OSError, ValueError):
        report = {}
    return judge, report


def check_matches(judge, spec) -> None:
    """A one-line error unless the judge was trained for ``spec``'s dataset and label heads."""
    expected = [(n, int(k)) for n, k in (*spec.static_heads, *spec.dynamic_heads)]
    found = [(h["name"], int(h["classes"])) for h in judge.heads]
    if judge.dataset != spec.name or expected != found:
        raise UsageError(f"the judge was trained for dataset {judge.dataset!r} with heads {found}, not {spec.name!r} with {expected}")
