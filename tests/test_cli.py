"""The shared command plumbing: flags made from a settings dataclass, the run flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from s3vae_tf import cli


@dataclasses.dataclass
class Settings:
    epochs: int = 3
    rate: float = 0.5
    name: str = "x"
    fast: bool = True


def test_field_flags_parse_typed_values_and_bools():
    parser = cli.ArgumentParser(prog="t")
    cli.add_field_flags(parser, Settings, Settings(), skip=("name",))
    args = parser.parse_args(["--epochs", "7", "--no-fast"])
    assert cli.field_values(args, Settings, name="given") == Settings(epochs=7, rate=0.5, name="given", fast=False)
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "y"])  # skipped: no such flag
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "seven"])


def test_field_flags_without_defaults_leave_absent_flags_absent():
    parser = cli.ArgumentParser(prog="t", argument_default=argparse.SUPPRESS)
    cli.add_field_flags(parser, Settings, Settings(), dest_prefix="train.", set_defaults=False)
    assert vars(parser.parse_args(["--rate", "2"])) == {"train.rate": 2.0}


def test_run_flags():
    parser = cli.ArgumentParser(prog="t")
    cli.add_run_flags(parser)
    args = parser.parse_args(["--run", "r"])
    assert (args.run, args.data_dir, args.seed) == ("r", "", 0)
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --run is required
