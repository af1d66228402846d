"""The flags of ``python -m s3vae_tf.train``: one per config field, and the config of the run they name.

Rerunning the same command on the same ``--run-dir`` resumes after the last completed epoch with the
same optimizer state; flags that would change the run (other than ``RESUMABLE_CHANGES``) are refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from s3vae_tf import cli
from s3vae_tf.config import PRESETS, RESUMABLE_CHANGES, VARIANTS, DataConfig, LossConfig, ModelConfig, RunConfig, TrainConfig, apply_preset
from s3vae_tf.data import registry
from s3vae_tf.errors import UsageError

SECTION_TYPES = {"model": ModelConfig, "loss": LossConfig, "data": DataConfig, "train": TrainConfig}
SECTIONS = tuple(SECTION_TYPES)


def build_parser() -> argparse.ArgumentParser:
    """Flags: the run's identity, then one flag per config field (``--batch-size`` sets train.batch_size)."""
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.train",
        description="Train S3VAE. Defaults are the paper's settings; --preset cpu (or quick) trains on a CPU in minutes.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--dataset", help="dataset name (default: sprite)")
    parser.add_argument("--variant", choices=VARIANTS, help="full (default), baseline, baseline-sv, or the comparison models dsvae (Li & Mandt 2018; "
                        "--dsvae-posterior full|factorised) and mocogan (Tulyakov et al. 2018)")
    parser.add_argument("--preset", choices=PRESETS, help="paper (default), quick or cpu")
    parser.add_argument("--run-dir", help="where config, checkpoints and logs go (default: runs/<dataset>-<variant>)")
    defaults = RunConfig()
    for section in SECTIONS:
        group = parser.add_argument_group(f"{section} settings")
        # no parser defaults: a flag not given leaves the saved (or preset) value alone
        cli.add_field_flags(group, SECTION_TYPES[section], getattr(defaults, section), dest_prefix=f"{section}.",
                            set_defaults=False)
    return parser


def resolve_config(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The run's config and directory: a saved run plus the flags given, or a new run from preset + flags.

    A flag that contradicts the saved config (except ``RESUMABLE_CHANGES``) is an error: the run
    directory belongs to another run.
    """
    given = vars(args)
    dataset = given.get("dataset", "sprite")
    variant = given.get("variant", "full")
    run_dir = Path(given.get("run_dir") or f"runs/{dataset}-{variant}")
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--run-dir {run_dir} exists and is not a directory")
    config_path = run_dir / "config.json"
    fresh = RunConfig(dataset=dataset, variant=variant)
    fresh = apply_preset(fresh, given.get("preset", "paper"))
    overrides = {k: v for k, v in given.items() if "." in k}
    if config_path.exists():
        saved = RunConfig.load(config_path)
        identity = {k: given[k] for k in ("dataset", "variant", "preset") if k in given}
        requested = _with_overrides(saved, {**overrides, **identity})
        diffs = saved.differences(requested)
        if diffs:
            shown = ", ".join(f"{d} ({_get(saved, d)!r} -> {_get(requested, d)!r})" for d in diffs[:4])
            raise UsageError(
                f"run directory {run_dir} holds a run with another config: {shown}; "
                "use another --run-dir, or only change " + ", ".join(RESUMABLE_CHANGES)
            )
        config = requested
    else:
        config = _with_overrides(fresh, overrides)
    config.validate()
    if config.train.judge and not Path(config.train.judge).is_file():
        raise UsageError(f"--judge {config.train.judge} does not exist")
    registry.get(config.dataset)
    return config, run_dir


def _get(config: RunConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    raw = config.to_dict()
    for key, value in overrides.items():
        if "." in key:
            section, name = key.split(".", 1)
            raw[section][name] = value
        else:
            raw[key] = value
    return RunConfig.from_dict(raw)


