"""Configs and runners shared by the training tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def tiny_flags(data_dir: Path, run_dir: Path, **extra) -> list[str]:
    """CLI flags for a tiny model on the small real Sprites cache: a few seconds per epoch."""
    flags = {
        "dataset": "sprite",
        "run-dir": run_dir,
        "data-dir": data_dir,
        "batch-size": 8,
        "steps-per-epoch": 3,
        "validation-steps": 1,
        "epochs": 2,
        "image-every": 1,
        "verbose": 0,
        **{k.replace("_", "-"): v for k, v in TINY_MODEL.items()},
        **extra,
    }
    return [f"--{k}={v}" for k, v in flags.items()]


def run_module(module: str, args: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` from the repository root; returns the completed process."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's C++ start-up log lines (which it prints before Python code runs)."""
    noise = ("WARNING: All log messages", "I0000", "E0000", "W0000", "To enable the following")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(noise)]
