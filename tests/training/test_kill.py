"""Crash safety with real signals: a training process SIGKILLed at several moments, a checkpoint write
among them, and rerun with the same command, ends with the same checkpoint as a run never interrupted."""

from __future__ import annotations

import csv
import signal
import sys

import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.train import entry
from tests import kill_points
from tests.training.helpers import tiny_flags

EPOCHS = 5
CHECKPOINTS = "tensorflow.python.checkpoint.checkpoint_management"


def _variables(run_dir) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _index(run_dir) -> str:
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    return latest.rsplit("/", 1)[-1] if latest else ""


def _history_epochs(run_dir) -> list[int]:
    path = run_dir / "history.csv"
    return [int(row["epoch"]) for row in csv.DictReader(path.open())] if path.exists() else []


@pytest.mark.slow
def test_sigkilled_training_resumes_to_the_same_checkpoint(sprite_data_dir, tmp_path):
    reference = tmp_path / "straight"
    assert entry(tiny_flags(sprite_data_dir, reference, epochs=EPOCHS, **{"image-every": 0})) == 0

    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "s3vae_tf.train", *tiny_flags(sprite_data_dir, run_dir, epochs=EPOCHS, **{"image-every": 0})]
    killed = -signal.SIGKILL
    # 1. mid-save of the second checkpoint: its data files are written, the index not yet updated
    env = kill_points.kill_env(tmp_path, CHECKPOINTS, "update_checkpoint_state_internal", 2)
    assert kill_points.run(command, env) == killed
    assert _index(run_dir) == "ckpt-1", "the checkpoint being written when killed is never the latest"
    # 2. resumed, then killed while old checkpoints are deleted after the fourth one's index was written
    #    (saves 2, 3, 4 in this process; the third sweep removes ckpt-1)
    env = kill_points.kill_env(tmp_path, CHECKPOINTS, "CheckpointManager._sweep", 3)
    assert kill_points.run(command, env) == killed
    assert _index(run_dir) == "ckpt-4"
    # 3. from outside, as soon as the next epoch's row reaches history.csv (around the fifth checkpoint's save)
    rows = len(_history_epochs(run_dir))
    status = kill_points.run(command, kill_when=lambda: len(_history_epochs(run_dir)) > rows)
    assert status in (killed, 0)
    # 4. the same command again, until it completes
    for _ in range(3):
        if kill_points.run(command) == 0:
            break
    else:
        pytest.fail("the run did not complete after being killed")

    assert _index(run_dir) == _index(reference) == f"ckpt-{EPOCHS}"
    expected, got = _variables(reference), _variables(run_dir)
    assert got.keys() == expected.keys()
    for name in expected:
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue  # the serialised object graph names layers by Keras' per-process counters
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(expected[name]), rtol=1e-5, atol=1e-6, err_msg=name)
    assert _history_epochs(run_dir) == list(range(EPOCHS)), "every epoch logged once, none lost"
