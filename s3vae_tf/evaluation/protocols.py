"""The paper's sampling protocols: generate clips with one latent kept and the other drawn, then judge them.

* Protocol A (the paper's Table 1): keep the dynamics of each test clip (posterior means z_1:T), draw the
  static latent z_f from its prior N(0, I), decode. A disentangled model keeps the motion whatever
  appearance is drawn, so the judge's dynamic heads are scored against the test clip's dynamic labels.
* Protocol B: keep the appearance of each test clip (posterior mean of z_f), draw z_1:T from the learned
  prior, decode; the judge's static heads are scored against the clip's static labels.

Each repeat draws new noise (a function of the seed and the repeat, not of the batch size); the metrics of
:mod:`s3vae_tf.evaluation.metrics` are computed per repeat and summarised as mean and std over repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from s3vae_tf.data.registry import sort_sets
from s3vae_tf.evaluation.confusion import confusion_counts
from s3vae_tf.evaluation.judge import align_sets, as_samples, head_labels, judge_sets, predict
from s3vae_tf.evaluation.metrics import classification_metrics, summarize

PROTOCOLS = {
    "a": "motion of each test clip kept (posterior mean z_1:T), appearance z_f drawn from N(0, I)",
    "b": "appearance of each test clip kept (posterior mean z_f), motion z_1:T: the means of the learned prior along a sampled path",
    "swap": "a's motion (z_1:T means) with b's appearance (z_f mean) for pairs of test clips of other characters and motions; "
            "a hit when every dynamic head reads a's labels and every static head b's",
}
_STREAM = {"a": 1, "b": 2}
_STREAM_MOTION = 5  # a generator's fixed motion noise (protocol A for a model without an encoder)
GENERATOR_PROTOCOLS = {
    "a": "for a generator without an encoder (MoCoGAN): each test clip's category (its first dynamic label on the first "
         "frame) and a motion noise drawn once per clip are kept, the content z_C is drawn from N(0, I) in every repeat; "
         "the judge's reading of that head is scored against the category",
}
NOT_APPLICABLE = {
    "reconstruction": "the model has no encoder: it cannot reconstruct a test clip",
    "b": "protocol B keeps a test clip's appearance, which a model without an encoder cannot infer",
    "swap": "swaps exchange inferred latents of two test clips; a model without an encoder has none",
}


@dataclass
class LabelledClips:
    """Real clips of a test split with their labels: uint8 ``frames`` (N, T, H, W, C), ``static`` (N, S),
    ``dynamic`` (N, T, D); float pixels are ``frames / pixel_scale``."""

    frames: np.ndarray
    static: np.ndarray
    dynamic: np.ndarray
    pixel_scale: float

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], pixel_scale: float, limit: int = 0) -> "LabelledClips":
        cut = slice(0, limit or None)
        return cls(arrays["frames"][cut], arrays["static"][cut], arrays["dynamic"][cut], float(pixel_scale))

    def __len__(self) -> int:
        return len(self.frames)


def _in_batches(step, arrays: Sequence[np.ndarray], batch_size: int) -> dict[str, np.ndarray]:
    """``step`` (a dict-valued function) on consecutive batches of ``arrays``, outputs concatenated per key."""
    step = tf.function(step, reduce_retracing=True)
    parts: dict[str, list] = {}
    for start in range(0, len(arrays[0]), batch_size):
        for name, value in step(*(a[start : start + batch_size] for a in arrays)).items():
            parts.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(p) for name, p in parts.items()}


def encode_means(model, clips: LabelledClips, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means (z_f (N, F), z_1:T (N, T, Z)) of every test clip."""

    def step(frames):
        return model.encode(tf.cast(frames, tf.float32) / clips.pixel_scale)

    params = _in_batches(step, [clips.frames], batch_size)
    return params["f_mean"], params["z_mean"]


def judge_generations(
    model, judge, protocol: str, f_mean: np.ndarray, z_mean: np.ndarray, seed: int, repeat: int, batch_size: int
) -> dict[str, np.ndarray]:
    """p(y|x) per judge head for one generated clip per test clip under ``protocol`` ("a" or "b")."""
    count, frames, z_dim = z_mean.shape
    rng = np.random.default_rng([seed, _STREAM[protocol], repeat])
    f_noise = rng.standard_normal(f_mean.shape).astype(np.float32)
    z_noise = rng.standard_normal((count, frames, z_dim)).astype(np.float32)

    def step(f_n, z_n, f, z):
        kept = {"z_t": z} if protocol == "a" else {"z_f": f}
        return judge.probabilities(model.generate_from_noise(f_n, z_n, **kept, prior_means=True))

    return _in_batches(step, [f_noise, z_noise, f_mean, z_mean], batch_size)


def judge_reconstructions(model, judge, f_mean: np.ndarray, z_mean: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """p(y|x) per judge head for the reconstructions of the test clips (both latents kept)."""
    return _in_batches(lambda f, z: judge.probabilities(model.decode(f, z)), [f_mean, z_mean], batch_size)


def evaluate_protocols(model, judge, clips: LabelledClips, repeats: int = 5, seed: int = 0, batch_size: int = 128) -> dict:
    """The judge's metrics on real clips and on their reconstructions (references: what the judge and the
    decoder allow), and per protocol mean/std over ``repeats`` for the heads the protocol scores.

    The judge's readings of set-valued heads (``judge.label_sets``: SMMNIST's two digits) are aligned to the
    labels they are scored against first (:func:`~s3vae_tf.evaluation.judge.align_sets`), so reading a
    pair in either order is right. ``b_all``: protocol B's accuracy on every static head at once. Also:
    ``confusion`` (per dynamic head, [true, predicted] counts: protocol A's summed over the repeats, the judge's on the real clips, and the swaps' against the motion clip's label) and ``swap`` (:func:`swap_scores` on pairs from :func:`swap_partners`).

    Returns ``{"real": {head: metrics}, "reconstruction": {head: metrics}, "a": {head: summary},
    "b": {head: summary}, "b_all": summary, "confusion": ..., "swap": ...}`` where a summary maps each of acc / is / h_yx / h_y
    to ``{"mean", "std", "values"}``.
    """
    labels = head_labels(judge.heads, clips.static, clips.dynamic)
    sets = judge_sets(judge)

    def scored(probs: Mapping[str, np.ndarray]) -> dict:
        return {h["name"]: classification_metrics(*as_samples(probs[h["name"]], labels[h["name"]]), seed=seed) for h in judge.heads}

    real = align_sets(predict(judge, clips.frames, batch_size, clips.pixel_scale), labels, sets)
    result: dict = {"real": scored(real)}
    dynamic = [h for h in judge.heads if h["factor"] == "dynamic"]
    confusion = {h["name"]: {"real": confusion_counts(real[h["name"]], labels[h["name"]], h["classes"]),
                             "a": np.zeros((h["classes"], h["classes"]), np.int64)} for h in dynamic}
    f_mean, z_mean = encode_means(model, clips, batch_size)
    result["reconstruction"] = scored(align_sets(judge_reconstructions(model, judge, f_mean, z_mean, batch_size), labels, sets))
    for protocol, factor in (("a", "dynamic"), ("b", "static")):
        heads = [h["name"] for h in judge.heads if h["factor"] == factor]
        per_repeat: dict[str, list] = {name: [] for name in heads}
        joint = []
        for r in range(repeats):
            probs = align_sets(judge_generations(model, judge, protocol, f_mean, z_mean, seed, r, batch_size), labels, sets)
            if protocol == "b":
                joint.append({"acc": float(np.mean(appearance_hits(judge.heads, probs, labels)))})
            for name in heads:
                per_repeat[name].append(classification_metrics(*as_samples(probs[name], labels[name]), seed=seed))
                if protocol == "a":
                    confusion[name]["a"] += confusion_counts(probs[name], labels[name], confusion[name]["a"].shape[0])
        result[protocol] = {name: {**summarize(runs), "samples": runs[0]["samples"], "balanced_samples": runs[0]["balanced_samples"]}
                            for name, runs in per_repeat.items()}
        if protocol == "b":
            result["b_all"] = summarize(joint)
    result["confusion"] = {name: {kind: m.tolist() for kind, m in c.items()} for name, c in confusion.items()}
    partners = swap_partners(set_sorted(clips.static, judge.heads, sets), clips.dynamic, seed)
    valid = partners >= 0
    probs = align_sets(judge_swaps(model, judge, f_mean[partners[valid]], z_mean[valid], batch_size),
                       swap_references(judge.heads, labels, partners), sets)
    result["swap"] = score_swaps(judge.heads, probs, labels, partners)
    for head in dynamic:  # the swaps' readings of the motion clip's label, as protocol A's
        name = head["name"]
        result["confusion"][name]["swap"] = confusion_counts(probs[name], labels[name][valid], head["classes"]).tolist()
    return result


def set_sorted(static: np.ndarray, heads: Sequence[Mapping], label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """Static labels (N, S) with the columns of each set of static heads sorted within each row (equal rows:
    the same appearance)."""
    names = [h["name"] for h in sorted((h for h in heads if h["factor"] == "static"), key=lambda h: h["column"])]
    return sort_sets(static, names, label_sets)


def swap_partners(static: np.ndarray, dynamic: np.ndarray, seed: int = 0) -> np.ndarray:
    """For each clip a, a clip b of another character (some static label differs) with another motion
    (the first frame's dynamic labels differ), drawn with ``seed``; -1 where no such clip exists."""
    rng = np.random.default_rng([seed, 3])
    count = len(static)
    character = np.asarray(static).reshape(count, -1)
    motion = np.asarray(dynamic)[:, 0].reshape(count, -1)
    partners = np.full(count, -1, np.int64)
    for i in range(count):
        ok = np.flatnonzero(np.any(character != character[i], axis=1) & np.any(motion != motion[i], axis=1))
        if len(ok):
            partners[i] = rng.choice(ok)
    return partners


def judge_swaps(model, judge, f_b: np.ndarray, z_a: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """p(y|x) per judge head for a's motion (z_1:T means ``z_a``) decoded with b's appearance (z_f means ``f_b``)."""
    return _in_batches(lambda f, z: judge.probabilities(model.decode(f, z)), [f_b, z_a], batch_size)


def swap_references(heads: Sequence[Mapping], labels: Mapping[str, np.ndarray], partners: np.ndarray) -> dict[str, np.ndarray]:
    """What each head of a swap (a's motion, ``partners[a]``'s appearance) should read, one row per pair."""
    valid = partners >= 0
    return {h["name"]: np.asarray(labels[h["name"]])[valid if h["factor"] == "dynamic" else partners[valid]] for h in heads}


def score_swaps(heads: Sequence[Mapping], probs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
                partners: np.ndarray) -> dict:
    """:func:`swap_scores` of the pairs (a, ``partners[a]``) that have a partner (``partners >= 0``); ``probs``
    holds one row per such pair, in order, and ``labels`` the labels of every clip."""
    valid = partners >= 0
    return swap_scores(heads, probs, {n: l[valid] for n, l in labels.items()}, {n: l[partners[valid]] for n, l in labels.items()})


def appearance_hits(heads: Sequence[Mapping], probs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N,) True where the judge reads every static label of the row."""
    static = [h["name"] for h in heads if h["factor"] == "static"]
    hits = np.ones(len(labels[static[0]]) if static else 0, bool)
    for name in static:
        hits &= np.argmax(probs[name], axis=-1) == labels[name]
    return hits


def swap_scores(heads: Sequence[Mapping], probs: Mapping[str, np.ndarray], labels_a: Mapping[str, np.ndarray],
                labels_b: Mapping[str, np.ndarray]) -> dict:
    """Swap accuracy of generations of a's motion with b's appearance, row by row: every dynamic head must
    be right against a's labels (``motion``), every static head against b's (``appearance``), and ``both``.
    A per-frame head must be right on every frame. Also returns each head's accuracy and the pair count."""
    motion_ok, per_head = [], {}
    for head in heads:
        reference = (labels_a if head["factor"] == "dynamic" else labels_b)[head["name"]]
        pairs = len(reference)
        right = (np.argmax(probs[head["name"]], axis=-1) == reference).reshape(pairs, -1).all(axis=1)
        per_head[head["name"]] = float(np.mean(right))
        if head["factor"] == "dynamic":
            motion_ok.append(right)
    appearance = appearance_hits(heads, probs, labels_b)
    motion = np.all(motion_ok, axis=0) if motion_ok else np.ones_like(appearance)
    return {"motion": float(np.mean(motion)), "appearance": float(np.mean(appearance)),
            "both": float(np.mean(motion & appearance)), "heads": per_head, "pairs": int(len(motion))}


def category_reading(probs: Mapping[str, np.ndarray], head: Mapping, label_sets: Sequence[Sequence[str]],
                     category: np.ndarray) -> np.ndarray:
    """(N, K): the judge's reading of the category ``head`` on each generated clip. A per-frame head is read on
    the first frame (the category is the first frame's label); a head of a set of labels (SMMNIST's two
    directions) is read, per clip, by the head of its set that gives ``category`` the highest probability."""
    group = next((g for g in label_sets if head["name"] in g), (head["name"],))
    readings = np.stack([np.asarray(probs[name]) for name in group])  # (k, N, [T,] K)
    if head["per_frame"]:
        readings = readings[:, :, 0]
    rows = np.arange(readings.shape[1])
    best = np.argmax(readings[:, rows, category], axis=0)  # (N,) which head of the set reads it best
    return readings[best, rows]


def generator_codes(model, clips: LabelledClips, head: Mapping, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Protocol A's fixed motion for a generator: (categories (N,), motion noise (N, T, Z)), one per test clip."""
    category = np.asarray(clips.dynamic[:, 0, head["column"]], np.int32)
    mc = model.model_config
    rng = np.random.default_rng([seed, _STREAM_MOTION])
    return category, rng.standard_normal((len(category), mc.frames, mc.z_dim)).astype(np.float32)


def judge_generator(model, judge, category: np.ndarray, motion: np.ndarray, seed: int, repeat: int, batch_size: int) -> dict[str, np.ndarray]:
    """p(y|x) per judge head of one generated clip per (category, motion noise), with new content for ``repeat``."""
    rng = np.random.default_rng([seed, _STREAM["a"], repeat])
    content = rng.standard_normal((len(category), model.model_config.f_dim)).astype(np.float32)

    def step(c, m, k):
        return judge.probabilities(model.generate_from_noise(c, m, k))

    return _in_batches(step, [content, motion, category], batch_size)


def evaluate_generator(model, judge, clips: LabelledClips, repeats: int = 5, seed: int = 0, batch_size: int = 128) -> dict:
    """Protocol A for a generator without an encoder (:data:`GENERATOR_PROTOCOLS`), ``repeats`` times, in the layout
    of :func:`evaluate_protocols`: ``real`` (the judge on the real clips), ``a`` (the model's category head: the
    same summaries), ``confusion``; ``b`` is empty and ``swap`` None, and ``not_applicable`` says why for them and
    for the reconstructions."""
    labels = head_labels(judge.heads, clips.static, clips.dynamic)
    sets = judge_sets(judge)
    heads = {h["name"]: h for h in judge.heads}
    if model.category_head not in heads:
        raise ValueError(f"the judge has no head {model.category_head!r}, the model's category")
    head = heads[model.category_head]
    real = align_sets(predict(judge, clips.frames, batch_size, clips.pixel_scale), labels, sets)
    result: dict = {"real": {h["name"]: classification_metrics(*as_samples(real[h["name"]], labels[h["name"]]), seed=seed)
                             for h in judge.heads}}
    category, motion = generator_codes(model, clips, head, seed)
    classes = head["classes"]
    confusion = {"real": confusion_counts(real[head["name"]], labels[head["name"]], classes), "a": np.zeros((classes, classes), np.int64)}
    runs = []
    for r in range(repeats):
        probs = category_reading(judge_generator(model, judge, category, motion, seed, r, batch_size), head, sets, category)
        runs.append(classification_metrics(probs, category, seed=seed))
        confusion["a"] += confusion_counts(probs, category, classes)
    result["a"] = {head["name"]: {**summarize(runs), "samples": runs[0]["samples"], "balanced_samples": runs[0]["balanced_samples"]}}
    result["b"], result["swap"] = {}, None
    result["confusion"] = {head["name"]: {kind: m.tolist() for kind, m in confusion.items()}}
    result["not_applicable"] = dict(NOT_APPLICABLE)
    return result
