"""`python -m s3vae_tf.train`: a real (tiny) run, and every kind of bad input ends in one line, exit 2."""

from __future__ import annotations

import csv
import json

import pytest

from s3vae_tf.train import entry
from tests.training.helpers import error_lines, run_module, tiny_flags


def test_tiny_run_writes_config_checkpoints_logs_and_images(sprite_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, run_dir, epochs=2))
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["batch_size"] == 8 and config["variant"] == "full"
    assert (run_dir / "checkpoints" / "checkpoint").exists()
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for name in ("loss", "recon", "kl_f", "kl_z", "scc", "dfp_moving", "dfp_direction", "mi", "val_loss"):
        assert name in rows[0], name
    events = list((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert any("images" in str(p) for p in events) and any("train" in str(p) for p in events)
    again = run_module("s3vae_tf.train", tiny_flags(sprite_data_dir, run_dir, epochs=2))
    assert again.returncode == 0 and "already trained for 2 epochs" in again.stdout


def _one_line_error(capsys, argv) -> str:
    code = entry(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    return err[0]


def test_unknown_dataset(capsys, tmp_path):
    line = _one_line_error(capsys, ["--dataset", "nope", "--run-dir", str(tmp_path / "r")])
    assert "unknown dataset 'nope'" in line and "sprite" in line


def test_unknown_flag_and_bad_values(capsys, tmp_path):
    assert "unrecognized arguments" in _one_line_error(capsys, ["--batchsize", "3"])
    assert "--batch-size must be at least 1" in _one_line_error(capsys, ["--batch-size", "0", "--run-dir", str(tmp_path / "r")])
    assert "invalid int value" in _one_line_error(capsys, ["--epochs", "many"])


def test_comparison_model_flags(capsys, tmp_path):
    assert "invalid choice: 'vae'" in _one_line_error(capsys, ["--variant", "vae"])
    line = _one_line_error(capsys, ["--variant", "dsvae", "--dsvae-posterior", "mean", "--run-dir", str(tmp_path / "r")])
    assert "unknown --dsvae-posterior 'mean'" in line and "factorised" in line
    line = _one_line_error(capsys, ["--variant", "mocogan", "--mixed-precision", "float16", "--run-dir", str(tmp_path / "r")])
    assert "--variant mocogan does not support --mixed-precision float16" in line


def test_missing_lpc_dir(capsys, tmp_path):
    line = _one_line_error(
        capsys, ["--run-dir", str(tmp_path / "r"), "--data-dir", str(tmp_path / "d"), "--lpc-dir", str(tmp_path / "missing")]
    )
    assert "LPC sheet directory" in line and "does not exist" in line


def test_corrupt_png(capsys, tmp_path, lpc_dir):
    import shutil

    broken = tmp_path / "lpc"
    shutil.copytree(lpc_dir, broken)
    (broken / "body" / "0.png").chmod(0o644)
    (broken / "body" / "0.png").write_bytes(b"garbage")
    line = _one_line_error(capsys, ["--run-dir", str(tmp_path / "r"), "--data-dir", str(tmp_path / "d"), "--lpc-dir", str(broken)])
    assert "corrupt or unreadable LPC sheet" in line and "body/0.png" in line


def test_explicit_paths_are_checked_with_a_warm_cache(capsys, tmp_path, sprite_data_dir, lpc_dir):
    """A cache already prepared never hides a missing or broken --lpc-dir; the cache itself is left intact."""
    import shutil

    manifest = (sprite_data_dir / "sprite" / "manifest.json").read_text()
    flags = ["--run-dir", str(tmp_path / "r"), "--data-dir", str(sprite_data_dir)]
    line = _one_line_error(capsys, [*flags, "--lpc-dir", str(tmp_path / "does-not-exist")])
    assert "LPC sheet directory" in line and "does not exist" in line
    broken = tmp_path / "lpc"
    shutil.copytree(lpc_dir, broken)
    (broken / "body" / "0.png").chmod(0o644)
    (broken / "body" / "0.png").write_bytes(b"garbage")
    line = _one_line_error(capsys, [*flags, "--lpc-dir", str(broken)])
    assert "corrupt or unreadable LPC sheet" in line and "body/0.png" in line
    assert (sprite_data_dir / "sprite" / "manifest.json").read_text() == manifest


def test_unwritable_data_dir(capsys, tmp_path, lpc_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    line = _one_line_error(capsys, ["--run-dir", str(tmp_path / "r"), "--data-dir", str(blocker), "--lpc-dir", str(lpc_dir)])
    assert "cannot write prepared data" in line


def test_run_dir_of_another_config(capsys, tmp_path):
    from s3vae_tf.config import RunConfig

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    RunConfig().save(run_dir / "config.json")
    line = _one_line_error(capsys, ["--run-dir", str(run_dir), "--batch-size", "7"])
    assert "holds a run with another config" in line and "train.batch_size (128 -> 7)" in line
    line = _one_line_error(capsys, ["--run-dir", str(run_dir), "--variant", "baseline"])
    assert "variant ('full' -> 'baseline')" in line


def test_traceback_free_in_a_real_process(tmp_path):
    result = run_module("s3vae_tf.train", ["--dataset", "mnist-typo", "--run-dir", tmp_path / "r"])
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("s3vae_tf.train: error: unknown dataset 'mnist-typo'"), lines
    assert "Traceback" not in result.stderr
