"""``python -m s3vae_tf.train --dataset sprite``: train (or resume) a run, with the judge's learning-curve probe.

The command composes the layers: flags -> config (:mod:`s3vae_tf.training.flags`), the training loop
(:mod:`s3vae_tf.training.train`) and, from evaluation, the judge's probe (:func:`s3vae_tf.evaluation.probe.judge_probe`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from s3vae_tf import cli
from s3vae_tf.config import RunConfig
from s3vae_tf.training import flags


def train(config: RunConfig, run_dir: Path):
    """Train (or resume) the run in ``run_dir`` with the judge's probe; the keras History (None if complete)."""
    # TensorFlow loads only now, once the input is valid: its start-up log reaches stderr whatever the log level, so
    # bad input must fail before it (one line, see s3vae_tf.cli)
    from s3vae_tf.evaluation.probe import judge_probe
    from s3vae_tf.training import train as loop

    return loop.train(config, run_dir, probe=judge_probe)


def main(argv: Sequence[str] | None = None) -> int:
    args = flags.build_parser().parse_args(argv)
    config, run_dir = flags.resolve_config(args)
    train(config, run_dir)
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="s3vae_tf.train")


if __name__ == "__main__":
    sys.exit(entry())
