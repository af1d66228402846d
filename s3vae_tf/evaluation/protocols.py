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

from s3vae_tf.evaluation.judge import as_samples, head_labels, predict
from s3vae_tf.evaluation.metrics import classification_metrics, summarize

PROTOCOLS = {
    "a": "motion of each test clip kept (posterior mean z_1:T), appearance z_f drawn from N(0, I)",
    "b": "appearance of each test clip kept (posterior mean z_f), motion z_1:T drawn from the learned prior",
}
_STREAM = {"a": 1, "b": 2}


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
        return judge.probabilities(model.generate_from_noise(f_n, z_n, **kept))

    return _in_batches(step, [f_noise, z_noise, f_mean, z_mean], batch_size)


def judge_reconstructions(model, judge, f_mean: np.ndarray, z_mean: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """p(y|x) per judge head for the reconstructions of the test clips (both latents kept)."""
    return _in_batches(lambda f, z: judge.probabilities(model.decode(f, z)), [f_mean, z_mean], batch_size)


def evaluate_protocols(model, judge, clips: LabelledClips, repeats: int = 5, seed: int = 0, batch_size: int = 128) -> dict:
    """The judge's metrics on real clips and on their reconstructions (references: what the judge and the
    decoder allow), and per protocol mean/std over ``repeats`` for the heads the protocol scores.

    Returns ``{"real": {head: metrics}, "reconstruction": {head: metrics}, "a": {head: summary},
    "b": {head: summary}}`` where a summary maps each of acc / is / h_yx / h_y to ``{"mean", "std", "values"}``.
    """
    labels = head_labels(judge.heads, clips.static, clips.dynamic)

    def scored(probs: Mapping[str, np.ndarray]) -> dict:
        return {h["name"]: classification_metrics(*as_samples(probs[h["name"]], labels[h["name"]]), seed=seed) for h in judge.heads}

    result: dict = {"real": scored(predict(judge, clips.frames, batch_size, clips.pixel_scale))}
    f_mean, z_mean = encode_means(model, clips, batch_size)
    result["reconstruction"] = scored(judge_reconstructions(model, judge, f_mean, z_mean, batch_size))
    for protocol, factor in (("a", "dynamic"), ("b", "static")):
        heads = [h["name"] for h in judge.heads if h["factor"] == factor]
        per_repeat: dict[str, list] = {name: [] for name in heads}
        for r in range(repeats):
            probs = judge_generations(model, judge, protocol, f_mean, z_mean, seed, r, batch_size)
            for name in heads:
                per_repeat[name].append(classification_metrics(*as_samples(probs[name], labels[name]), seed=seed))
        result[protocol] = {name: {**summarize(runs), "samples": runs[0]["samples"], "balanced_samples": runs[0]["balanced_samples"]}
                            for name, runs in per_repeat.items()}
    return result
