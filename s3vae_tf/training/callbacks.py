"""Callbacks of a training run: stop on non-finite loss, checkpoint every epoch, log image grids."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from s3vae_tf.errors import NonFiniteLossError
from s3vae_tf.grids import clip_grid
from s3vae_tf.training.run import RunCheckpoint


def _scalar(value) -> float:
    return float(np.mean(np.asarray(value)))


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, before anything is saved.

    Unlike keras' TerminateOnNaN, it raises, so the run ends with an error instead of returning as if it
    had finished; the checkpoint of the last completed epoch stays the latest one.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(_scalar(loss)):
            raise NonFiniteLossError(
                f"training diverged: the loss became {_scalar(loss)} in epoch {self.epoch + 1}, step {batch + 1}; "
                "the last good checkpoint is kept (try a lower --learning-rate)"
            )


class EpochCheckpoint(keras.callbacks.Callback):
    """Save model + optimizer + epoch after every epoch whose logs are finite.

    On multi-worker runs every worker saves (variables may need collective reads) but only the chief
    saves into the run directory; the others write to a scratch directory.
    """

    def __init__(self, checkpoint: RunCheckpoint):
        super().__init__()
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if not math.isfinite(_scalar(v))}
        if bad:
            raise NonFiniteLossError(f"epoch {epoch + 1} ended with non-finite {', '.join(sorted(bad))}; not saved")
        self.checkpoint.save(epoch + 1)


class ImageGrids(keras.callbacks.Callback):
    """Every ``every`` epochs, write reconstructions, swaps and samples of fixed clips to TensorBoard."""

    def __init__(self, log_dir: Path, clips: np.ndarray, every: int, seed: int = 0):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))
        self.clips = tf.constant(clips)
        self.every, self.seed = every, seed

    def grids(self) -> dict[str, np.ndarray]:
        """name -> uint8 image. Rows: originals over reconstructions; clip pairs and their swaps; samples."""
        model = self.model
        x = self.clips
        n = int(x.shape[0]) // 2 * 2
        recon = model(x, training=False).numpy()
        a, b = x[: n // 2], x[n // 2 : n]
        a_with_b, b_with_a = (t.numpy() for t in model.swap(a, b))
        samples = model.generate(n, seed=self.seed).numpy()
        originals = x.numpy()
        return {
            "reconstructions": clip_grid([r for pair in zip(originals, recon) for r in pair]),
            "swaps": clip_grid([r for quad in zip(a.numpy(), b.numpy(), a_with_b, b_with_a) for r in quad]),
            "samples": clip_grid(list(samples)),
        }

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if not self.every or ((epoch + 1) % self.every and not last):
            return
        with self.writer.as_default(step=epoch + 1):
            for name, image in self.grids().items():
                tf.summary.image(name, image[None], step=epoch + 1)
        self.writer.flush()
