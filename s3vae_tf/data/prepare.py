"""``python -m s3vae_tf.data.prepare --dataset NAME``: prepare and cache a dataset before training.

Training prepares a dataset itself when its cache is missing; this command does it ahead of time (for
example on a machine with the sources, before copying the data directory), shows progress, and reports
what the cache holds. Every DataConfig field is a flag (``--data-dir``, ``--mnist-dir``, ``--train-clips``, ...).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from s3vae_tf import cli
from s3vae_tf.config import DataConfig
from s3vae_tf.data import registry


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.data.prepare",
        description="Prepare a dataset (frames, labels, self-supervision labels) into the data directory's cache.",
    )
    parser.add_argument("--dataset", required=True, help="dataset name: sprite, smmnist, dsprites or mug")
    # no caps: they apply when loading, not to what is prepared
    cli.add_field_flags(parser, DataConfig, DataConfig(), skip=("max_train_clips", "max_test_clips"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    name = args.pop("dataset")

    spec = registry.get(name)
    config = DataConfig(**args)
    root = registry.data_root(config)
    start = time.monotonic()
    prepared = spec.prepare(config, root)
    for split, arrays in prepared.items():
        shapes = ", ".join(f"{key} {tuple(array.shape)}" for key, array in sorted(arrays.items()))
        print(f"{name} {split}: {shapes}")
    print(f"{name}: ready under {root} ({time.monotonic() - start:.1f} s)")
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    return cli.run(main, argv, prog="python -m s3vae_tf.data.prepare")


if __name__ == "__main__":
    sys.exit(entry())
