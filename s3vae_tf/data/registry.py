"""Dataset name -> what it looks like and how to prepare it.

Every dataset prepares the same arrays per split (uint8 ``frames`` (N, T, H, W, C), int32 ``static``
(N, S) and ``dynamic`` (N, T, D) ground-truth labels) plus its self-supervision signal: ``flow_moving`` /
``flow_direction`` (N, T-1, G*G) for the flow grid, or ``landmarks`` (N, T, 3) for faces.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from s3vae_tf.config import DataConfig
from s3vae_tf.data.storage.sources import given
from s3vae_tf.errors import UsageError

Prepared = dict[str, dict[str, np.ndarray]]  # split -> array name -> array


@dataclass(frozen=True)
class DatasetSpec:
    """Shapes, label heads and self-supervision signal of one dataset, and its preparation."""

    name: str
    frames: int
    frame_size: int
    channels: int
    pixel_scale: float  # float pixel = uint8 / pixel_scale
    static_heads: tuple[tuple[str, int], ...]
    dynamic_heads: tuple[tuple[str, int], ...]
    dfp_signal: str  # "flow" or "landmarks"
    prepare: Callable[[DataConfig, Path], Prepared]
    source: str = ""
    licence: str = ""
    # Readable class names per head where the classes have them: ((head, (name of class 0, ...)), ...).
    class_names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Groups of heads whose labels form an unordered set (SMMNIST's two digits, and their two directions per
    # frame): a judge reads the set, in any order (see s3vae_tf.evaluation.judge.align_sets).
    label_sets: tuple[tuple[str, ...], ...] = ()

    def names_of(self, head: str, classes: int) -> tuple[str, ...]:
        """Class names of ``head`` (its indices as text when the dataset names none)."""
        return dict(self.class_names).get(head, tuple(str(i) for i in range(classes)))

    def appearance_rows(self, static: np.ndarray) -> np.ndarray:
        """Static labels (N, S) with the columns of each static set of :attr:`label_sets` sorted within each row:
        equal rows mean the same appearance (a same-character partner, a supervised static target)."""
        return sort_sets(static, [name for name, _ in self.static_heads], self.label_sets)

    @property
    def value_range(self) -> tuple[float, float]:
        return 0.0, 255.0 / self.pixel_scale


def sort_sets(static: np.ndarray, names: Sequence[str], label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """A copy of ``static`` (N, S), whose column i holds the labels of head ``names[i]``, with the columns of each
    set of ``label_sets`` made only of these heads sorted within each row (a set of labels in one order)."""
    static = np.array(static, copy=True)
    column = {name: i for i, name in enumerate(names)}
    for group in label_sets:
        if all(name in column for name in group):
            members = [column[name] for name in group]
            static[:, members] = np.sort(static[:, members], axis=1)
    return static


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    _REGISTRY[spec.name] = spec
    return spec


def names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def get(name: str) -> DatasetSpec:
    """The spec registered under ``name``; unknown names are a usage error listing the known ones."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown dataset {name!r}; choose one of {', '.join(sorted(_REGISTRY))}") from None


def data_root(config: DataConfig) -> Path:
    """Where prepared datasets live: --data-dir, else $S3VAE_DATA_DIR, else ~/.cache/s3vae_tf."""
    return Path(given(config.data_dir, "S3VAE_DATA_DIR") or "~/.cache/s3vae_tf").expanduser()


def load(name: str, config: DataConfig) -> Prepared:
    """Prepared arrays of both splits (built and cached on first use), with the configured caps applied."""
    spec = get(name)
    prepared = spec.prepare(config, data_root(config))
    caps = {"train": config.max_train_clips, "test": config.max_test_clips}
    return {split: {k: v[: caps[split]] if caps[split] else v for k, v in arrays.items()} for split, arrays in prepared.items()}


_BUILTIN = "dsprites", "mug", "smmnist", "sprites"


def _load_builtin() -> None:
    """Import every built-in dataset module (each registers itself; importing one directly registers only it)."""

    for module in _BUILTIN:
        importlib.import_module(f"s3vae_tf.data.datasets.{module}")
