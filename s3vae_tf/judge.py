"""``python -m s3vae_tf.judge --dataset NAME``: train the judge of a dataset and save it where evaluate looks.

The judge: :mod:`s3vae_tf.evaluation.judge`; its training: :mod:`s3vae_tf.evaluation.judge_training`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, Sequence

from s3vae_tf import cli
from s3vae_tf.config import DataConfig
from s3vae_tf.data import registry
from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.judge import REQUIRED_ACCURACY, default_path, report_path, save_judge
from s3vae_tf.evaluation.judge_training import JudgeSettings, train_judge


def build_parser() -> cli.ArgumentParser:
    """Flags: the dataset, where the judge goes, its settings, then one flag per data setting (as train)."""
    defaults = JudgeSettings()
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.judge",
        description="Train the judge of a dataset: a supervised classifier of real clips, one head per label.",
    )
    parser.add_argument("--dataset", default="sprite", help="dataset name (default: sprite)")
    parser.add_argument("--out", default="", help="where to save the judge (default: <data root>/judges/<dataset>.keras)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output (default: 1)")
    cli.add_field_flags(parser.add_argument_group("judge settings"), JudgeSettings, defaults)
    cli.add_field_flags(parser.add_argument_group("data settings (as for python -m s3vae_tf.train)"), DataConfig, DataConfig())
    return parser


def format_report(report: Mapping) -> str:
    """The judge's test accuracy per head, one line each."""
    lines = [f"judge for {report['dataset']}: test accuracy on {report['test_clips']} real clips"]
    for head in report["heads"]:
        kind = f"{head['factor']}{', per frame' if head['per_frame'] else ''}"
        lines.append(f"  {head['name']:<12} {kind:<20} {head['classes']:>3} classes  {100 * report['test_accuracy'][head['name']]:7.2f}%")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = registry.get(args.dataset)
    settings = cli.field_values(args, JudgeSettings)
    settings.validate()
    data = cli.field_values(args, DataConfig)
    if data.max_train_clips < 0 or data.max_test_clips < 0:
        raise UsageError("--max-train-clips and --max-test-clips must not be negative")
    out = Path(args.out) if args.out else default_path(registry.data_root(data), spec.name)
    if out.suffix != ".keras":
        raise UsageError(f"--out {out} must end in .keras")
    if out.exists() and not out.is_file():
        raise UsageError(f"--out {out} exists and is not a file")
    splits = registry.load(spec.name, data)
    judge, report = train_judge(spec, splits, settings, verbose=args.verbose)
    save_judge(judge, report, out)
    print(format_report(report))
    print(f"trained in {report['train_seconds']:.0f} s; saved {out} and {report_path(out).name}")
    for name, acc in report["test_accuracy"].items():
        if acc < REQUIRED_ACCURACY:
            print(f"warning: head {name} reaches {100 * acc:.2f}% < {100 * REQUIRED_ACCURACY:.0f}% on real test clips; "
                  "metrics judged by it are not comparable with the paper's (train longer: --epochs)", file=sys.stderr)
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="s3vae_tf.judge")


if __name__ == "__main__":
    sys.exit(entry())
