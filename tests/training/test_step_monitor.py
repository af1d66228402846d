"""The step monitor: gradient shares and the protocol probe every N steps, in steps.csv, history.csv and
TensorBoard, carried over a resume."""

from __future__ import annotations

import csv
import math

import numpy as np
import tensorflow as tf

from tests.training.helpers import run_module, tiny_flags


def _rows(path):
    return list(csv.DictReader(path.open()))


def test_shares_and_probe_reach_every_log_and_survive_a_resume(sprite_data_dir, tiny_judge_path, tmp_path):
    run_dir = tmp_path / "run"
    flags = {"epochs": 1, "image-every": 0, "diagnostics-every": 2, "probe-every": 3, "probe-clips": 12, "judge": tiny_judge_path}
    first = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, run_dir, **flags))
    assert first.returncode == 0, first.stderr[-3000:]
    steps = _rows(run_dir / "steps.csv")
    assert [int(r["step"]) for r in steps] == [0, 2, 3]
    terms = ("recon", "kl_f", "kl_z", "scc", "dfp_moving", "dfp_direction", "mi")
    diagnosed = steps[1]
    assert math.isclose(sum(float(diagnosed[f"share_{t}"]) for t in terms), 1.0, rel_tol=1e-6)
    assert all(float(diagnosed[f"grad_{t}"]) >= 0 for t in terms) and float(diagnosed["grad_recon"]) > 0
    assert 0.0 <= float(diagnosed["scc_active"]) <= 1.0
    probed = steps[2]
    for name in ("a_action", "b_skin", "b_hair", "swap_motion", "swap_appearance", "swap"):
        assert 0.0 <= float(probed[name]) <= 1.0, name
    history = _rows(run_dir / "history.csv")
    assert history[0]["a_action"] == probed["a_action"] and history[0]["share_recon"] == diagnosed["share_recon"]
    assert any("steps" in str(p) for p in (run_dir / "logs").rglob("events.out.tfevents.*"))

    minutes = float(steps[-1]["train_minutes"])
    again = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, run_dir, **{**flags, "epochs": 2}))
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = _rows(run_dir / "steps.csv")
    assert [int(r["step"]) for r in resumed] == [0, 2, 3, 4, 6]
    assert float(resumed[-1]["train_minutes"]) > minutes  # minutes add up over sessions


def test_a_missing_judge_is_one_line_exit_2(sprite_data_dir, tmp_path):
    result = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, tmp_path / "run", judge=tmp_path / "none.keras"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("does not exist") and len(result.stderr.strip().splitlines()) == 1


def test_measurements_do_not_change_what_the_run_trains(sprite_data_dir, tiny_judge_path, tmp_path):
    weights = {}
    for name, flags in (("plain", {"diagnostics-every": 0, "probe-every": 0}),
                        ("measured", {"diagnostics-every": 1, "probe-every": 2, "probe-clips": 8, "judge": tiny_judge_path})):
        run_dir = tmp_path / name
        result = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, run_dir, **{"epochs": 1, "image-every": 0, **flags}))
        assert result.returncode == 0, result.stderr[-3000:]
        reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
        weights[name] = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "model" in k}
    assert weights["plain"].keys() == weights["measured"].keys() and len(weights["plain"]) > 10
    for key, value in weights["plain"].items():
        np.testing.assert_array_equal(value, weights["measured"][key], err_msg=key)
