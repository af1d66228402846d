"""Flags of a tiny judge trained for a few steps on the small real Sprites cache (the ``tiny_judge_path``
fixture in tests/conftest.py trains one through the CLI)."""

from __future__ import annotations

from pathlib import Path

from tests.evaluation.helpers import TINY_JUDGE


def tiny_judge_flags(data_dir: Path, out: Path, **extra) -> list[str]:
    flags = {"dataset": "sprite", "data-dir": data_dir, "out": out, "epochs": 1, "steps-per-epoch": 2, "batch-size": 8,
             "verbose": 0, **{k.replace("_", "-"): v for k, v in TINY_JUDGE.items()}, **extra}
    return [f"--{k}={v}" for k, v in flags.items()]
