"""The paper's metrics on a judge's predictions: Acc, IS, H(y|x) and H(y), in nats.

``probs`` are the judge's class distributions p(y|x), one row per generated sample (N, K). With K classes:
H(y|x) = E_x H(p(y|x)) lies in [0, ln K] (0 for confident predictions), H(y) = H(E_x p(y|x)) lies in
[0, ln K] (ln K when every class is predicted equally often), and IS = exp(E_x KL(p(y|x) || p(y))) =
exp(H(y) - H(y|x)) lies in [1, K]. The distribution metrics are computed on a class-balanced subset, as
published, so that H(y) can reach ln K only when the generator covers every class.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

METRICS = ("acc", "is", "h_yx", "h_y")


def _check(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"expected class probabilities of shape (N, K) with N > 0, got {probs.shape}")
    return probs


def _entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of each row in nats, with 0 log 0 = 0."""
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    probs = _check(probs)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != probs.shape[0]:
        raise ValueError(f"{probs.shape[0]} predictions but {labels.shape[0]} labels")
    return float(np.mean(np.argmax(probs, axis=-1) == labels))


def conditional_entropy(probs: np.ndarray) -> float:
    """H(y|x) = E_x[-sum_y p(y|x) ln p(y|x)]: low when the judge is confident about each sample."""
    return float(np.mean(_entropy(_check(probs))))


def marginal_entropy(probs: np.ndarray) -> float:
    """H(y) = -sum_y p(y) ln p(y) with p(y) = E_x p(y|x): high when the samples cover every class."""
    return float(_entropy(np.mean(_check(probs), axis=0)))


def inception_score(probs: np.ndarray) -> float:
    """IS = exp(E_x KL(p(y|x) || p(y))), the marginal p(y) = E_x p(y|x) taken over the same samples."""
    probs = _check(probs)
    marginal = np.mean(probs, axis=0)
    safe = np.where(probs > 0, probs, 1.0)
    kl = np.sum(np.where(probs > 0, probs * (np.log(safe) - np.log(np.where(marginal > 0, marginal, 1.0))), 0.0), axis=-1)
    return float(np.exp(np.mean(kl)))


def balanced_subset(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sorted indices of an equal number of samples per class present (the rarest class's count), drawn
    without replacement with ``seed``."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) == 0:
        return np.zeros((0,), np.int64)
    per_class = int(counts.min())
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(chosen))


def classification_metrics(probs: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Acc over all samples; IS, H(y|x), H(y) over a class-balanced subset (by ground-truth label)."""
    probs = _check(probs)
    labels = np.asarray(labels).reshape(-1)
    subset = balanced_subset(labels, seed)
    balanced = probs[subset]
    return {
        "acc": accuracy(probs, labels),
        "is": inception_score(balanced),
        "h_yx": conditional_entropy(balanced),
        "h_y": marginal_entropy(balanced),
        "samples": int(probs.shape[0]),
        "balanced_samples": int(len(subset)),
    }


def summarize(repeats: Iterable[Mapping[str, float]]) -> dict[str, dict[str, object]]:
    """Mean, standard deviation (over repeats, ddof=0) and the values of each metric of ``METRICS``."""
    repeats = list(repeats)
    out: dict[str, dict[str, object]] = {}
    for name in METRICS:
        values = [float(r[name]) for r in repeats if name in r]
        if values:
            out[name] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}
    return out
