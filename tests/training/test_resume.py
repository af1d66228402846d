"""Checkpoints: an interrupted run resumes exactly where it stopped; a diverging run keeps the last good one."""

from __future__ import annotations

import numpy as np
import pytest

from s3vae_tf.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from s3vae_tf.errors import NonFiniteLossError
from s3vae_tf.train import train
from s3vae_tf.training import callbacks
from tests.conftest import TINY_MODEL


def tiny_config(data_dir, epochs=2) -> RunConfig:
    return RunConfig(
        model=ModelConfig(**TINY_MODEL),
        data=DataConfig(data_dir=str(data_dir)),
        train=TrainConfig(epochs=epochs, batch_size=8, steps_per_epoch=3, validation_steps=1, image_every=0, verbose=0, seed=3),
    )


def _state(model):
    return [v.numpy().copy() for v in model.variables], [np.asarray(v).copy() for v in model.optimizer.variables]


def test_interrupted_run_resumes_with_the_same_optimizer_state(sprite_data_dir, tmp_path, monkeypatch):
    config = tiny_config(sprite_data_dir, epochs=3)
    straight = train(config, tmp_path / "straight").model
    expected_weights, expected_opt = _state(straight)

    original = callbacks.NonFiniteGuard.on_train_batch_end

    def interrupt(self, batch, logs=None):  # Ctrl-C in the middle of the second epoch
        original(self, batch, logs)
        if self.epoch == 1 and batch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.NonFiniteGuard, "on_train_batch_end", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "resumed")
    monkeypatch.setattr(callbacks.NonFiniteGuard, "on_train_batch_end", original)
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").glob("*.index")) == ["ckpt-1.index"]

    resumed = train(config, tmp_path / "resumed").model
    weights, opt = _state(resumed)
    assert int(resumed.optimizer.iterations.numpy()) == int(straight.optimizer.iterations.numpy()) == 9
    for a, b in zip(weights, expected_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(opt, expected_opt):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_non_finite_loss_stops_and_keeps_the_good_checkpoint(sprite_data_dir, tmp_path, monkeypatch):
    config = tiny_config(sprite_data_dir, epochs=1)
    run_dir = tmp_path / "run"
    train(config, run_dir)
    good = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").iterdir()}

    from s3vae_tf.models.s3vae import S3VAE

    original = S3VAE.total_loss
    monkeypatch.setattr(S3VAE, "total_loss", lambda self, terms: original(self, terms) * float("nan"))
    config.train.epochs = 2
    with pytest.raises(NonFiniteLossError, match="training diverged: the loss became nan in epoch 2, step 1"):
        train(config, run_dir)
    after = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").iterdir()}
    assert after == good, "the last good checkpoint must stay untouched and stay the latest"
