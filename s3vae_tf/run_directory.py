"""A run directory: its config, its model and its checkpoints.

Layout::

    RUN_DIR/config.json        the RunConfig (written once, atomically)
    RUN_DIR/checkpoints/       tf.train checkpoints of model + optimizer + epoch (last 3 kept)
    RUN_DIR/logs/              TensorBoard event files
    RUN_DIR/history.csv        one row of logs per epoch

Checkpoints are tf.train.CheckpointManager checkpoints: data files are written first and the
``checkpoint`` index file is replaced atomically afterwards, so a crash mid-save leaves the previous
checkpoint as the latest one.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from s3vae_tf.config import RunConfig, has_encoder
from s3vae_tf.data import registry
from s3vae_tf.data.registry import DatasetSpec
from s3vae_tf.errors import UsageError
from s3vae_tf.models.labels import ModelLabels
from s3vae_tf.models.mocogan import MoCoGAN
from s3vae_tf.models.s3vae import S3VAE

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"


def model_labels(spec: DatasetSpec, config: RunConfig) -> ModelLabels:
    """The label heads and DFP signal the model is built for."""
    return ModelLabels(static=spec.static_heads, dynamic=spec.dynamic_heads, dfp_signal=spec.dfp_signal,
                       flow_grid=config.data.flow_grid, flow_bins=config.data.flow_bins)


def build_model(config: RunConfig, spec: DatasetSpec, dataset_size: int = 0, **model_overrides) -> S3VAE | MoCoGAN:
    """The model of ``config`` on ``spec``, with every weight created: an S3VAE (its variants and DSVAE), or
    MoCoGAN for ``--variant mocogan``."""
    model_fields = {**config.to_dict()["model"], "frames": spec.frames, "channels": spec.channels, **model_overrides}
    model_class = S3VAE if has_encoder(config.variant) else MoCoGAN
    model = model_class(
        model=model_fields,
        loss=config.to_dict()["loss"],
        variant=config.variant,
        labels=model_labels(spec, config),
        dataset_size=dataset_size,
        seed=config.train.seed,
        name="s3vae" if model_class is S3VAE else "mocogan",
    )
    model.build()
    return model


class RunCheckpoint:
    """Model, optimizer and epoch counter, saved at epoch ends and restored on resume."""

    def __init__(self, model: keras.Model, directory: str | os.PathLike, max_to_keep: int = 3):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        items = {"model": model, "epoch": self.epoch}
        if getattr(model, "optimizer", None) is not None:
            items["optimizer"] = model.optimizer
        self.checkpoint = tf.train.Checkpoint(**items)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore(self, path: str | None = None, weights_only: bool = False) -> int:
        """Restore ``path`` (default: the latest); return the number of completed epochs (0 if none)."""
        path = path or self.latest
        if path is None:
            return 0
        try:
            status = self.checkpoint.read(path)
        except (tf.errors.OpError, ValueError) as exc:
            raise UsageError(f"cannot read checkpoint {path}: {exc.__class__.__name__}") from None
        if weights_only:
            status.expect_partial()
        else:
            status.assert_existing_objects_matched()
        return int(self.epoch.numpy())

    def save(self, epoch: int) -> str:
        self.epoch.assign(epoch)
        return self.manager.save(checkpoint_number=epoch)


def open_run(run_dir: str | os.PathLike) -> RunConfig:
    """The config of an existing run directory, or a one-line error saying what is missing."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run directory {run_dir} does not exist")
    if not (run_dir / CONFIG).is_file():
        raise UsageError(f"{run_dir} is not a run directory (no {CONFIG})")
    return RunConfig.load(run_dir / CONFIG)


def load_trained(run_dir: str | os.PathLike, **model_overrides) -> tuple[RunConfig, DatasetSpec, S3VAE | MoCoGAN, int]:
    """(config, dataset spec, model with the latest weights, epochs trained) of a run directory.

    ``model_overrides`` change build-time options that leave the weights alone (e.g. ``unroll=True``).
    """
    config = open_run(run_dir)
    spec = registry.get(config.dataset)
    model = build_model(config, spec, **model_overrides)
    checkpoint = RunCheckpoint(model, Path(run_dir) / CHECKPOINTS)
    if checkpoint.latest is None:
        raise UsageError(f"run directory {run_dir} has no checkpoint yet (train it first)")
    epoch = checkpoint.restore(weights_only=True)
    return config, spec, model, epoch
