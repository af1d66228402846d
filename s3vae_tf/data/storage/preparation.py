"""Preparing a dataset once: clip counts and per-clip seeds, the cache round trip, flow-grid labels.

The generated datasets (Stochastic Moving MNIST, dSprites sequences) and MUG share these steps; each
module only knows how to make its clips.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from s3vae_tf.config import DataConfig
from s3vae_tf.data.labels.flow_labels import FARNEBACK, dataset_labels
from s3vae_tf.data.storage.cache import ArrayCache, source_digests
from s3vae_tf.data.storage.progress import Progress
from s3vae_tf.errors import UsageError

SPLITS = ("train", "test")
_SPLIT_CODES = {"train": 0, "test": 1}

Splits = dict[str, dict[str, np.ndarray]]
# The source files a dataset is built from now ({name: path}), or None when they are not at hand (not yet
# downloaded); explicit paths (flags, environment variables) are checked here, so a missing one is an error
# even when a cache exists.
Sources = Callable[[], Mapping[str, Path] | None]


def clip_counts(config: DataConfig, defaults: Mapping[str, int]) -> dict[str, int]:
    """Clips to generate per split: --train-clips / --test-clips, 0 meaning the dataset's default."""
    counts = {}
    for split in SPLITS:
        value = getattr(config, f"{split}_clips")
        if value < 0:
            raise UsageError(f"--{split}-clips must not be negative")
        counts[split] = value or defaults[split]
    return counts


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one clip: a function of (seed, split, index) only, so any clip can be rebuilt alone."""
    return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])


def cache_directory(data_root: Path, name: str, counts: Mapping[str, int], defaults: Mapping[str, int], seed: int) -> Path:
    """``<root>/<name>`` for the default sizes and seed; other sizes get their own folder (a smoke run never
    replaces the full dataset's cache)."""
    if dict(counts) == dict(defaults) and seed == 0:
        return Path(data_root) / name
    return Path(data_root) / f"{name}-{counts['train']}-{counts['test']}-seed{seed}"


def flow_params(config: DataConfig) -> dict:
    """The settings the flow-grid labels depend on (part of every flow dataset's cache parameters)."""
    return {
        "flow_grid": config.flow_grid,
        "flow_bins": config.flow_bins,
        "flow_threshold": config.flow_threshold,
        "farneback": FARNEBACK,
    }


def add_flow_labels(splits: Splits, config: DataConfig) -> None:
    """Compute ``flow_moving`` / ``flow_direction`` for every split in place, with a progress bar."""
    for split, arrays in splits.items():
        progress = Progress(f"flow labels ({split})", len(arrays["frames"]))
        arrays["flow_moving"], arrays["flow_direction"] = dataset_labels(
            arrays["frames"], config.flow_grid, config.flow_bins, config.flow_threshold, progress=progress.add
        )


def flatten(splits: Splits) -> dict[str, np.ndarray]:
    """``{"train": {"frames": a}}`` -> ``{"train_frames": a}``: the cache's flat naming."""
    return {f"{split}_{name}": array for split, arrays in splits.items() for name, array in arrays.items()}


def unflatten(arrays: Mapping[str, np.ndarray]) -> Splits:
    """Inverse of :func:`flatten` for the train and test splits."""
    return {split: {k[len(split) + 1 :]: v for k, v in arrays.items() if k.startswith(split + "_")} for split in SPLITS}


def cached(cache: ArrayCache, build: Callable[[], Splits], what: str, sources: Sources | None = None) -> Splits:
    """The verified cache's splits; when it is missing, stale or corrupt, or was built from other source files
    than ``sources()`` finds now, ``build()`` them once and save (with the sources' sha256)."""
    files = sources() if sources is not None else None
    arrays = cache.load(sources=source_digests(files) if files is not None else None)
    if arrays is None:
        cache.ensure_writable()
        print(f"preparing {what} (once; cached in {cache.directory})", flush=True)
        try:
            splits = build()
        except BaseException:
            with contextlib.suppress(OSError):
                cache.directory.rmdir()  # only when empty: a failed first preparation leaves nothing behind
            raise
        files = sources() if sources is not None else None  # a download during build() put them at hand
        cache.save(flatten(splits), source_digests(files) if files is not None else None)
        arrays = cache.load(verify=False)
    return unflatten(arrays)
