"""A tiny judge trained for a few steps on the small real Sprites cache (through its CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evaluation.helpers import TINY_JUDGE


def tiny_judge_flags(data_dir: Path, out: Path, **extra) -> list[str]:
    flags = {"dataset": "sprite", "data-dir": data_dir, "out": out, "epochs": 1, "steps-per-epoch": 2, "batch-size": 8,
             "verbose": 0, **{k.replace("_", "-"): v for k, v in TINY_JUDGE.items()}, **extra}
    return [f"--{k}={v}" for k, v in flags.items()]


@pytest.fixture(scope="session")
def tiny_judge_path(sprite_data_dir, tmp_path_factory) -> Path:
    from s3vae_tf.evaluation.judge import entry

    out = tmp_path_factory.mktemp("judges") / "sprite.keras"
    assert entry(tiny_judge_flags(sprite_data_dir, out)) == 0
    return out
