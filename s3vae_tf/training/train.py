"""Train S3VAE on a dataset, resumably, under any tf.distribute strategy (the loop behind ``python -m s3vae_tf.train``).

A run resumes after its last completed epoch with the same optimizer state (:mod:`s3vae_tf.run_directory`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from s3vae_tf.config import RunConfig, has_encoder, uses_partners
from s3vae_tf.data import registry
from s3vae_tf.data.pipeline import ClipSource, evaluation_dataset, training_dataset
from s3vae_tf.data.registry import DatasetSpec
from s3vae_tf.errors import UsageError
from s3vae_tf.run_directory import CHECKPOINTS, CONFIG, RunCheckpoint, build_model
from s3vae_tf.training.callbacks import EpochCheckpoint, EpochHistory, ImageGrids, NonFiniteGuard, StepMonitor
from s3vae_tf.training.strategy import is_chief, make_strategy

# (config, dataset spec, prepared splits) -> an object whose ``probe(model)`` returns {name: value} and whose
# ``names()`` lists them, or None: the learning-curve probe (the command passes the judge's, from evaluation).
ProbeFactory = Callable[[RunConfig, DatasetSpec, Mapping[str, Mapping[str, np.ndarray]]], object]


def train(config: RunConfig, run_dir: Path, probe: ProbeFactory | None = None):
    """Train (or resume) the run in ``run_dir``; return the keras History (None if already complete).

    ``probe`` builds the learning-curve probe run every ``--probe-every`` steps (none without it).
    """
    spec = registry.get(config.dataset)
    strategy = make_strategy(config.train.strategy)  # first: multi-worker collectives start here
    chief = is_chief(strategy)
    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[config.train.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(config.train.seed)

    splits = registry.load(config.dataset, config.data)
    partners = uses_partners(config.variant, config.loss)
    # Training reads appearance labels (partners, baseline-sv's static targets): a set of static labels as a set.
    train_source, test_source = (ClipSource({**splits[name], "static": spec.appearance_rows(splits[name]["static"])},
                                            spec.pixel_scale, partners=partners) for name in ("train", "test"))
    tc = config.train
    if tc.batch_size > train_source.size:
        raise UsageError(f"--batch-size {tc.batch_size} is larger than the {train_source.size} training clips")
    if tc.batch_size % strategy.num_replicas_in_sync:
        raise UsageError(f"--batch-size {tc.batch_size} does not split over {strategy.num_replicas_in_sync} replicas")
    steps_per_epoch = tc.steps_per_epoch or train_source.size // tc.batch_size

    run_dir.mkdir(parents=True, exist_ok=True)
    if chief and not (run_dir / CONFIG).exists():
        config.save(run_dir / CONFIG)
    write_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="s3vae-worker-"))

    with strategy.scope():
        model = build_model(config, spec, dataset_size=train_source.size)
        jit = {"auto": "auto", "on": True, "off": False}[tc.jit_compile]
        model.compile(
            optimizer=keras.optimizers.Adam(tc.learning_rate, beta_1=tc.adam_beta_1, beta_2=tc.adam_beta_2),
            jit_compile=jit, steps_per_execution=tc.steps_per_execution,
        )
        model.build_optimizers()
        checkpoint = RunCheckpoint(model, write_dir / CHECKPOINTS)
        first_epoch = checkpoint.restore()
    if first_epoch >= tc.epochs:
        print(f"{run_dir}: already trained for {first_epoch} epochs (--epochs {tc.epochs}); nothing to do")
        return None
    if first_epoch:
        print(f"{run_dir}: resuming after epoch {first_epoch} of {tc.epochs}", flush=True)

    train_ds = training_dataset(train_source, tc.batch_size, steps_per_epoch, first_epoch, tc.epochs, tc.seed)
    val_ds, val_steps = evaluation_dataset(test_source, tc.batch_size, tc.validation_steps, tc.seed)
    callbacks: list[keras.callbacks.Callback] = [NonFiniteGuard()]
    if chief:
        callbacks += [
            EpochHistory(run_dir / "history.csv", first_epoch),
            keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
        ]
    callbacks.append(EpochCheckpoint(checkpoint))
    if chief and tc.image_every:
        clips = splits["test"]["frames"][:8].astype("float32") / spec.pixel_scale
        callbacks.append(ImageGrids(run_dir / "logs", clips, tc.image_every, seed=tc.seed))
    if chief and (tc.diagnostics_every or tc.probe_every):
        monitor = step_monitor(config, spec, splits, train_source, run_dir, strategy.num_replicas_in_sync, probe)
        if monitor is not None:
            callbacks.insert(1, monitor)  # before CSVLogger and TensorBoard, so the epoch logs carry its values
    return model.fit(
        train_ds,
        epochs=tc.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_ds if val_steps else None,
        validation_steps=val_steps or None,
        callbacks=callbacks,
        verbose=tc.verbose,
        shuffle=False,
    )


def step_monitor(config: RunConfig, spec: DatasetSpec, splits, train_source: ClipSource, run_dir: Path, replicas: int,
                 probe: ProbeFactory | None = None) -> StepMonitor | None:
    """The StepMonitor of a run: gradient shares on a fixed training batch and, every ``--probe-every`` steps,
    the probe that ``probe`` builds (none when it returns None)."""
    tc = config.train
    if replicas > 1:
        print("note: step diagnostics and the protocol probe run on one device only; skipped", file=sys.stderr)
        return None
    count = min(tc.batch_size, train_source.size)
    batch = train_source.batch(tf.range(count), tf.constant([tc.seed, 7], tf.int64))
    built = probe(config, spec, splits) if tc.probe_every and probe is not None else None
    # Gradient shares are those of the terms on the inference network: a generator without an encoder has none.
    diagnostics = tc.diagnostics_every if has_encoder(config.variant) else 0
    if not diagnostics and built is None:
        return None
    return StepMonitor(run_dir, batch, diagnostics, built, tc.probe_every, tuple(built.names()) if built else ())
