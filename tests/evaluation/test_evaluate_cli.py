"""`python -m s3vae_tf.evaluate`: the table of a real tiny run, its files, and one-line errors."""

from __future__ import annotations

import json
import math

import pytest

from s3vae_tf.evaluation.evaluate import entry
from tests.training.helpers import run_module


def test_evaluate_writes_the_table_json_and_markdown(tiny_run_dir, tiny_judge_path):
    result = run_module("s3vae_tf.evaluate", ["--run", tiny_run_dir, "--judge", tiny_judge_path, "--repeats", "2", "--batch-size", "16"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Protocol A" in result.stdout and "H(y|x)" in result.stdout and "Protocol B" in result.stdout
    data = json.loads((tiny_run_dir / "evaluation.json").read_text())
    assert data["test_clips"] == 36 and data["repeats"] == 2 and data["variant"] == "full"
    action = data["a"]["action"]
    assert len(action["acc"]["values"]) == 2 and all(0.0 <= v <= 1.0 for v in action["acc"]["values"])
    assert 1.0 - 1e-9 <= action["is"]["mean"] <= 9.0 + 1e-9
    assert 0.0 <= action["h_yx"]["mean"] <= math.log(9) + 1e-9 and 0.0 <= action["h_y"]["mean"] <= math.log(9) + 1e-9
    assert action["is"]["std"] >= 0.0
    assert set(data["b"]) == {"skin", "pants", "top", "hair"} and set(data["real"]) == {"skin", "pants", "top", "hair", "action"}
    markdown = (tiny_run_dir / "evaluation.md").read_text()
    assert "| Method | Acc | IS | H(y\\|x) | H(y) |" in markdown and "| Method | skin | pants | top | hair |" in markdown
    assert "full (this run, 1 epoch, paper preset)" in markdown
    assert "| reconstructions (this run) |" in markdown
    assert set(data["reconstruction"]) == set(data["real"])


def test_the_default_judge_is_looked_up_under_the_data_dir(tiny_run_dir, capsys, tmp_path):
    code = entry(["--run", str(tiny_run_dir), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"no judge at {tmp_path / 'judges' / 'sprite.keras'}" in err[0] and "python -m s3vae_tf.judge" in err[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--run", "{missing}"], "does not exist"),
        (["--run", "{run}", "--repeats", "0"], "--repeats must be at least 1"),
        (["--run", "{run}", "--max-clips", "-1"], "--max-clips must not be negative"),
        ([], "the following arguments are required: --run"),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys, tmp_path, tiny_run_dir):
    argv = [a.format(missing=tmp_path / "nope", run=tiny_run_dir) for a in argv]
    code = entry(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
