"""How a judge is trained: fully supervised on a dataset's real training clips, scored on its test clips."""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping

import keras
import numpy as np

from s3vae_tf.data.pipeline import ClipSource, training_dataset
from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.judge import REQUIRED_ACCURACY, build_judge, label_heads, real_accuracy


@dataclasses.dataclass
class JudgeSettings:
    """How a judge is built and trained.

    Defaults: 20 epochs, which on Sprites gives 100% on every head and, on the real test clips, action IS
    8.974 and H(y|x) 0.0029 (6 epochs: IS 8.844, H(y|x) 0.017; 12 epochs: 8.946, 0.0061), so that the judge's
    own uncertainty does not cap IS or inflate H(y|x) of generated clips (11 min on 2 CPU cores).
    """

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    filters: int = 16
    conv_dim: int = 128
    hidden_dim: int = 128
    seed: int = 0
    steps_per_epoch: int = 0  # 0 = one pass over the training clips
    blur: float = 0.0  # training augmentation: largest Gaussian blur sigma in pixels (0 = none)
    contrast: float = 0.0  # training augmentation: largest contrast reduction, in [0, 1) (0 = none)

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "filters", "conv_dim", "hidden_dim"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        if self.steps_per_epoch < 0:
            raise UsageError("--steps-per-epoch must not be negative")
        if not self.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        if not 0 <= self.blur <= 8:
            raise UsageError("--blur must be between 0 and 8 pixels")
        if not 0 <= self.contrast < 1:
            raise UsageError("--contrast must be at least 0 and below 1")


def train_judge(spec, splits: Mapping[str, Mapping[str, np.ndarray]], settings: JudgeSettings, verbose: int = 1):
    """Train a judge on ``splits["train"]``; return it and its report (test accuracy per head, timing)."""
    settings.validate()
    train = {k: splits["train"][k] for k in ("frames", "static", "dynamic")}
    source = ClipSource(train, spec.pixel_scale)
    if settings.batch_size > source.size:
        raise UsageError(f"--batch-size {settings.batch_size} is larger than the {source.size} training clips")
    steps = settings.steps_per_epoch or source.size // settings.batch_size
    keras.utils.set_random_seed(settings.seed)
    heads = label_heads(spec, train["dynamic"])
    judge = build_judge(spec, heads, settings.filters, settings.conv_dim, settings.hidden_dim, settings.blur, settings.contrast)
    schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=settings.epochs * steps)
    judge.compile(optimizer=keras.optimizers.Adam(schedule))
    dataset = training_dataset(source, settings.batch_size, steps, 0, settings.epochs, settings.seed)
    start = time.perf_counter()
    judge.fit(dataset, epochs=settings.epochs, steps_per_epoch=steps, verbose=verbose, shuffle=False)
    seconds = time.perf_counter() - start
    accuracies = real_accuracy(judge, splits["test"], spec.pixel_scale)
    report = {
        "dataset": spec.name,
        "heads": heads,
        "test_accuracy": accuracies,
        "test_clips": int(len(splits["test"]["frames"])),
        "train_clips": int(source.size),
        "train_seconds": round(seconds, 1),
        "required_accuracy": REQUIRED_ACCURACY,
        "meets_required_accuracy": all(a >= REQUIRED_ACCURACY for a in accuracies.values()),
        "settings": dataclasses.asdict(settings),
    }
    return judge, report
