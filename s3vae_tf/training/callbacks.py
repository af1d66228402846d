"""Callbacks of a training run: stop on non-finite loss, checkpoint every epoch, log pictures to TensorBoard,
and measure the run every N steps (each term's gradient share, the protocol probe)."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins.image import metadata as image_metadata

from s3vae_tf.errors import NonFiniteLossError
from s3vae_tf.io import atomic_write_text
from s3vae_tf.pictures.figures import as_gif, as_png, pictures
from s3vae_tf.run_directory import RunCheckpoint


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


class EpochHistory(keras.callbacks.CSVLogger):
    """``history.csv``: one row of logs per epoch, appended across resumed sessions.

    A run killed after an epoch's row was written but before its checkpoint redoes that epoch; its earlier row
    (any row of an epoch after the restored checkpoint) is dropped first, so every epoch appears once.
    """

    def __init__(self, path: Path, first_epoch: int):
        super().__init__(str(path), append=True)
        self.path, self.first_epoch = Path(path), first_epoch

    def on_train_begin(self, logs=None):
        if self.path.exists():
            with open(self.path, newline="") as fh:
                rows = list(csv.reader(fh))
            if rows:
                epoch = rows[0].index("epoch") if "epoch" in rows[0] else 0
                kept = [rows[0], *(r for r in rows[1:] if r and int(r[epoch]) < self.first_epoch)]
                if len(kept) != len(rows):
                    buffer = io.StringIO()
                    csv.writer(buffer, lineterminator="\n").writerows(kept)
                    atomic_write_text(self.path, buffer.getvalue())
        super().on_train_begin(logs)


class ImageGrids(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), write the pictures of fixed test clips to TensorBoard.

    The pictures are those of ``python -m s3vae_tf.swap`` (:mod:`s3vae_tf.pictures.figures`):
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

    with Image.open(io.BytesIO(gif)) as image:
        width, height = image.size
    tensor = tf.constant([str(width), str(height)], tf.string)
    tensor = tf.concat([tensor, tf.constant([gif], tf.string)], axis=0)
    tf.summary.write(name, tensor, step=step, metadata=image_metadata.create_summary_metadata(display_name=name, description="animated GIF"))


STEPS_CSV = "steps.csv"


class StepMonitor(keras.callbacks.Callback):
    """Every ``diagnostics_every`` steps, each weighted loss term's gradient norm on the inference network
    (conv encoder + posterior) and its share of their sum, on one fixed training batch; every ``probe_every``
    steps, ``probe(model)`` (protocol accuracies with the dataset's judge, see
    :class:`s3vae_tf.evaluation.probe.ProtocolProbe`).

    Each measurement is a row of ``RUN_DIR/steps.csv`` (step, epoch, training minutes, values) and a
    TensorBoard scalar under ``logs/steps``; the latest values are added to the epoch logs, so they also
    reach ``history.csv``, the epoch's TensorBoard scalars and the progress bar. Training minutes count the
    wall time of the training steps only (not these measurements), summed over resumed sessions. The
    measurements restore BatchNorm's moving statistics, so they never change what the run trains.
    """

    def __init__(self, run_dir: Path, batch: Mapping[str, tf.Tensor], diagnostics_every: int,
                 probe: Callable | None = None, probe_every: int = 0, probe_names: tuple[str, ...] = ()):
        super().__init__()
        self.path = Path(run_dir) / STEPS_CSV
        self.writer = tf.summary.create_file_writer(str(Path(run_dir) / "logs" / "steps"))
        self.batch, self.diagnostics_every = batch, diagnostics_every
        self.probe, self.probe_every, self.probe_names = probe, probe_every, tuple(probe_names)
        self.latest: dict[str, float] = {}
        self._diagnose = None
        self.epoch = 0

    def columns(self) -> list[str]:
        terms = self.model.term_names() if self.diagnostics_every else ()
        monitors = self.model.monitor_names() if self.diagnostics_every else ()
        return [*(f"grad_{t}" for t in terms), *(f"share_{t}" for t in terms), *monitors, *self.probe_names]

    def on_train_begin(self, logs=None):
        self.step0 = self.last_step = int(self.model.optimizer.iterations.numpy())
        self.latest = {name: float("nan") for name in self.columns()}
        rows = self._read_rows()
        kept = [r for r in rows if int(r["step"]) <= self.step0]  # rows past the restored checkpoint are redone
        self.minutes0 = float(kept[-1]["train_minutes"]) if kept else 0.0
        for row in kept:  # the latest measured value of each column
            self.latest.update({k: float(v) for k, v in row.items() if k in self.latest and v not in ("", None)})
        self._write_rows(kept)
        self.start, self.excluded = time.perf_counter(), 0.0
        # Measure now what has no value yet (a fresh run: step 0), so every epoch's logs carry finite values.
        missing = {k for k, v in self.latest.items() if math.isnan(v)}
        diagnostics = bool(self.diagnostics_every) and bool(missing - set(self.probe_names))
        probe = self.probe is not None and bool(self.probe_every) and bool(missing & set(self.probe_names))
        if diagnostics or probe:
            self._measure(self.step0, diagnostics, probe)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        # "Crossed a multiple" rather than "is a multiple": with --steps-per-execution K the callback sees
        # every K-th step only.
        diagnostics = bool(self.diagnostics_every) and step // self.diagnostics_every > self.last_step // self.diagnostics_every
        probe = self.probe is not None and bool(self.probe_every) and step // self.probe_every > self.last_step // self.probe_every
        self.last_step = step
        if diagnostics or probe:
            self._measure(step, diagnostics, probe)
        if logs is not None:
            logs.update({k: v for k, v in self.latest.items() if k.startswith(("share_", "a_", "swap"))})

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.latest)

    def _minutes(self) -> float:
        return self.minutes0 + (time.perf_counter() - self.start - self.excluded) / 60.0

    def _measure(self, step: int, diagnostics: bool, probe: bool) -> None:
        began = time.perf_counter()
        minutes = self._minutes()
        values: dict[str, float] = {}
        if diagnostics:
            if self._diagnose is None:
                self._diagnose = tf.function(self.model.term_gradient_norms)
            saved = [v.numpy() for v in self.model.non_trainable_variables]
            out = {k: float(v) for k, v in self._diagnose(self.batch, tf.constant(step, tf.int64)).items()}
            for variable, value in zip(self.model.non_trainable_variables, saved):
                variable.assign(value)
            terms = self.model.term_names()
            total = sum(out[t] for t in terms) or 1.0
            values.update({f"grad_{t}": out[t] for t in terms})
            values.update({f"share_{t}": out[t] / total for t in terms})
            values.update({m: out[m] for m in self.model.monitor_names()})
        if probe:
            values.update(self.probe(self.model))
        self.latest.update(values)
        self._append({"step": step, "epoch": self.epoch, "train_minutes": round(minutes, 4), **values})
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("train_minutes", minutes)
        self.writer.flush()
        self.excluded += time.perf_counter() - began

    def _read_rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, newline="") as fh:
            return list(csv.DictReader(fh))

    def _write_rows(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["step", "epoch", "train_minutes", *self.columns()], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buffer.getvalue())

    def _append(self, row: dict) -> None:
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["step", "epoch", "train_minutes", *self.columns()], extrasaction="ignore")
            writer.writerow(row)
