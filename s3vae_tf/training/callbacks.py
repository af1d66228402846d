"""Callbacks of a training run: stop on non-finite loss, checkpoint every epoch, log pictures to TensorBoard."""

from __future__ import annotations

import io
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from s3vae_tf.errors import NonFiniteLossError
from s3vae_tf.evaluation.pictures import as_gif, as_png, pictures
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
    """Every ``every`` epochs (and after the last), write the pictures of fixed test clips to TensorBoard.

    The pictures are those of ``python -m s3vae_tf.swap`` (:mod:`s3vae_tf.evaluation.pictures`):
    reconstructions, swaps, fixed-appearance and fixed-motion generations and samples, each as a PNG grid
    (``NAME``) and as an animated GIF (``NAME_gif``). They show the first ``max_clips`` clips with
    ``samples`` generations each: about 3.5 MB of event file per write for Sprites at the defaults.
    """

    def __init__(self, log_dir: Path, clips: np.ndarray, every: int, seed: int = 0, samples: int = 3, max_clips: int = 4):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))
        self.clips = np.asarray(clips[:max_clips], np.float32)
        self.every, self.seed, self.samples = every, seed, samples

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if not self.every or ((epoch + 1) % self.every and not last):
            return
        with self.writer.as_default(step=epoch + 1):
            for name, table in pictures(self.model, self.clips, self.samples, self.seed).items():
                tf.summary.image(name, as_png(table)[None], step=epoch + 1)
                _gif_summary(f"{name}_gif", as_gif(table), step=epoch + 1)
        self.writer.flush()


def _gif_summary(name: str, gif: bytes, step: int) -> None:
    """An already encoded (animated) image in TensorBoard's image format: [width, height, encoded]."""
    from PIL import Image
    from tensorboard.plugins.image import metadata

    with Image.open(io.BytesIO(gif)) as image:
        width, height = image.size
    tensor = tf.constant([str(width), str(height)], tf.string)
    tensor = tf.concat([tensor, tf.constant([gif], tf.string)], axis=0)
    tf.summary.write(name, tensor, step=step, metadata=metadata.create_summary_metadata(display_name=name, description="animated GIF"))
