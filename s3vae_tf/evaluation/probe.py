"""A cheap learning curve: protocols A and B and swap accuracy on a fixed subset of test clips, judged.

:class:`ProtocolProbe` holds a few hundred labelled test clips, fixed noise and fixed swap partners, so
two calls differ only by the model's weights; the training run calls it every ``--probe-every`` steps
(:class:`s3vae_tf.training.callbacks.StepMonitor`). One call is one forward pass of the encoder and three
of the decoder and the judge over the subset (about 2 s for 256 Sprites clips on the quick model, 2 CPU cores).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping

import numpy as np
import tensorflow as tf

from s3vae_tf.config import RunConfig, has_encoder
from s3vae_tf.data import registry
from s3vae_tf.data.registry import DatasetSpec
from s3vae_tf.evaluation.judge import align_sets, check_matches, default_path, head_labels, judge_sets, load_judge
from s3vae_tf.evaluation.protocols import (LabelledClips, category_reading, generator_codes, score_swaps, set_sorted, swap_partners,
                                           swap_references)


def probe_subset(arrays: Mapping[str, np.ndarray], pixel_scale: float, count: int) -> LabelledClips:
    """``count`` test clips spread evenly over the split (the split is ordered by character)."""
    total = len(arrays["frames"])
    index = np.unique(np.linspace(0, total - 1, min(count, total)).astype(np.int64))
    return LabelledClips(arrays["frames"][index], arrays["static"][index], arrays["dynamic"][index], float(pixel_scale))


class ProtocolProbe:
    """``probe(model) -> {"a_<head>", "b_<head>", "swap_motion", "swap_appearance", "swap"}``, accuracies in [0, 1].

    a_<head>: protocol A (z_1:T means kept, z_f ~ N(0, I)) on each dynamic head; b_<head>: protocol B (z_f
    mean kept, z_1:T: the learned prior's means along a sampled path) on each static head; swap*: a's motion with b's appearance
    (see :func:`s3vae_tf.evaluation.protocols.swap_scores`).
    """

    def __init__(self, judge, clips: LabelledClips, seed: int = 0, batch_size: int = 128):
        self.judge, self.clips, self.seed, self.batch_size = judge, clips, seed, batch_size
        self.sets = judge_sets(judge)
        self.labels = head_labels(judge.heads, clips.static, clips.dynamic)
        self.partners = swap_partners(set_sorted(clips.static, judge.heads, self.sets), clips.dynamic, seed)
        self.valid = self.partners >= 0
        self._functions = None

    def names(self) -> list[str]:
        heads = self.judge.heads
        return ([f"a_{h['name']}" for h in heads if h["factor"] == "dynamic"] + [f"b_{h['name']}" for h in heads if h["factor"] == "static"]
                + ["swap_motion", "swap_appearance", "swap"])

    def _build(self, model):
        judge = self.judge

        @tf.function(reduce_retracing=True)
        def encode(frames):
            params = model.encode(tf.cast(frames, tf.float32) / self.clips.pixel_scale)
            return params["f_mean"], params["z_mean"]

        @tf.function(reduce_retracing=True)
        def generations(f_noise, z_noise, f_mean, z_mean, f_partner):
            return {
                "a": judge.probabilities(model.generate_from_noise(f_noise, z_noise, z_t=z_mean)),
                "b": judge.probabilities(model.generate_from_noise(f_noise, z_noise, z_f=f_mean, prior_means=True)),
                "swap": judge.probabilities(model.decode(f_partner, z_mean)),
            }

        return encode, generations

    def __call__(self, model) -> dict[str, float]:
        if self._functions is None:
            self._functions = self._build(model)
        encode, generations = self._functions
        f_parts, z_parts = zip(*[(f.numpy(), z.numpy()) for f, z in
                                 (encode(self.clips.frames[s : s + self.batch_size]) for s in range(0, len(self.clips), self.batch_size))])
        f_mean, z_mean = np.concatenate(f_parts), np.concatenate(z_parts)
        rng = np.random.default_rng([self.seed, 4])
        f_noise = rng.standard_normal(f_mean.shape).astype(np.float32)
        z_noise = rng.standard_normal(z_mean.shape).astype(np.float32)
        partner = np.where(self.valid, self.partners, np.arange(len(self.partners)))
        probs: dict[str, dict[str, list]] = {}
        for s in range(0, len(f_mean), self.batch_size):
            cut = slice(s, s + self.batch_size)
            out = generations(f_noise[cut], z_noise[cut], f_mean[cut], z_mean[cut], f_mean[partner[cut]])
            for kind, heads in out.items():
                for name, p in heads.items():
                    probs.setdefault(kind, {}).setdefault(name, []).append(p.numpy())
        probs = {kind: {name: np.concatenate(p) for name, p in heads.items()} for kind, heads in probs.items()}
        swapped = align_sets({n: p[self.valid] for n, p in probs["swap"].items()},
                             swap_references(self.judge.heads, self.labels, self.partners), self.sets)
        probs = {kind: align_sets(heads, self.labels, self.sets) for kind, heads in probs.items() if kind != "swap"}
        result = {}
        for head in self.judge.heads:
            name, kind = head["name"], "a" if head["factor"] == "dynamic" else "b"
            predicted = np.argmax(probs[kind][name], axis=-1)
            result[f"{kind}_{name}"] = float(np.mean(predicted == self.labels[name]))
        swaps = score_swaps(self.judge.heads, swapped, self.labels, self.partners)
        result.update(swap_motion=swaps["motion"], swap_appearance=swaps["appearance"], swap=swaps["both"])
        return result


class GeneratorProbe:
    """``probe(model) -> {"a_<head>"}`` for a generator without an encoder (MoCoGAN): protocol A's accuracy with
    each subset clip's category and fixed motion noise and content (:func:`~s3vae_tf.evaluation.protocols.evaluate_generator`)."""

    def __init__(self, judge, clips: LabelledClips, head: str, seed: int = 0, batch_size: int = 128):
        self.judge, self.clips, self.seed, self.batch_size = judge, clips, seed, batch_size
        self.head = next(h for h in judge.heads if h["name"] == head)
        self.sets = judge_sets(judge)
        self._generate = None

    def names(self) -> list[str]:
        return [f"a_{self.head['name']}"]

    def __call__(self, model) -> dict[str, float]:
        if self._generate is None:
            judge = self.judge
            self._generate = tf.function(lambda c, m, k: judge.probabilities(model.generate_from_noise(c, m, k)), reduce_retracing=True)
        category, motion = generator_codes(model, self.clips, self.head, self.seed)
        content = np.random.default_rng([self.seed, 4]).standard_normal((len(category), model.model_config.f_dim)).astype(np.float32)
        parts: dict[str, list] = {}
        for s in range(0, len(category), self.batch_size):
            cut = slice(s, s + self.batch_size)
            for name, p in self._generate(content[cut], motion[cut], category[cut]).items():
                parts.setdefault(name, []).append(p.numpy())
        probs = category_reading({n: np.concatenate(p) for n, p in parts.items()}, self.head, self.sets, category)
        return {f"a_{self.head['name']}": float(np.mean(np.argmax(probs, axis=-1) == category))}


def judge_probe(config: RunConfig, spec: DatasetSpec, splits: Mapping[str, Mapping[str, np.ndarray]]) -> ProtocolProbe | GeneratorProbe | None:
    """The training run's probe (``training.train.ProbeFactory``): the dataset's judge (``--judge`` or the
    default path) on ``--probe-clips`` test clips; None, with a note, when no judge has been trained."""
    tc = config.train
    path = Path(tc.judge) if tc.judge else default_path(registry.data_root(config.data), config.dataset)
    if not path.is_file():
        print(f"note: no judge at {path} (python -m s3vae_tf.judge); the protocol probe is off", file=sys.stderr)
        return None
    judge, _ = load_judge(path)
    check_matches(judge, spec)
    clips = probe_subset(splits["test"], spec.pixel_scale, tc.probe_clips)
    if not has_encoder(config.variant):
        return GeneratorProbe(judge, clips, spec.dynamic_heads[0][0], seed=tc.seed)
    return ProtocolProbe(judge, clips, seed=tc.seed)
