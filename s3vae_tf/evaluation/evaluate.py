"""``python -m s3vae_tf.evaluate --run RUN_DIR``: the paper's metric table for a trained run.

Loads the run's latest checkpoint and the judge of its dataset, samples under protocols A and B
(:mod:`s3vae_tf.evaluation.protocols`) ``--repeats`` times, prints the table in the paper's layout and
writes ``RUN_DIR/evaluation.json`` (every number, per repeat) and ``RUN_DIR/evaluation.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from s3vae_tf import cli
from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.confusion import confusion_png
from s3vae_tf.evaluation.run_data import data_root, test_split
from s3vae_tf.evaluation.table import as_markdown, as_text
from s3vae_tf.io import atomic_write_bytes, atomic_write_text

RESULT_JSON = "evaluation.json"
RESULT_MARKDOWN = "evaluation.md"
CONFUSION_PNG = "confusion_a_{head}.png"


def build_parser():
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.evaluate",
        description="Evaluate a trained run with its dataset's judge: Acc, IS, H(y|x), H(y) as in the paper's Table 1.",
    )
    cli.add_run_flags(parser)
    parser.add_argument("--judge", default="", help="judge file (default: <data root>/judges/<dataset>.keras)")
    parser.add_argument("--repeats", type=int, default=5, metavar="INT", help="sampling repeats (default: 5)")
    parser.add_argument("--batch-size", type=int, default=128, metavar="INT", help="clips per generation batch (default: 128)")
    parser.add_argument("--max-clips", type=int, default=0, metavar="INT", help="evaluate on the first N test clips only (0 = all)")
    return parser


def evaluate_run(run_dir: Path, judge_path: str = "", data_dir: str = "", repeats: int = 5, batch_size: int = 128,
                 seed: int = 0, max_clips: int = 0) -> dict:
    """Every number of the evaluation of ``run_dir``, as written to ``evaluation.json``."""
    for name, value in (("repeats", repeats), ("batch-size", batch_size)):
        if value < 1:
            raise UsageError(f"--{name} must be at least 1")
    if max_clips < 0:
        raise UsageError("--max-clips must not be negative")
    # TensorFlow loads only now, once the input is valid: its start-up log reaches stderr whatever the log level, so
    # bad input must fail before it (one line, see s3vae_tf.cli)
    from s3vae_tf.evaluation.judge import check_matches, default_path, load_judge
    from s3vae_tf.evaluation.protocols import GENERATOR_PROTOCOLS, PROTOCOLS, LabelledClips, evaluate_generator, evaluate_protocols
    from s3vae_tf.run_directory import load_trained, open_run

    config = open_run(run_dir)
    path = Path(judge_path) if judge_path else default_path(data_root(config, data_dir), config.dataset)
    judge, report = load_judge(path)
    config, spec, model, epochs = load_trained(run_dir)
    check_matches(judge, spec)
    clips = LabelledClips.from_arrays(test_split(config, data_dir), spec.pixel_scale, max_clips)
    start = time.perf_counter()
    if model.has_encoder:
        result, protocols = evaluate_protocols(model, judge, clips, repeats, seed, batch_size), PROTOCOLS
    else:  # a generator (MoCoGAN): protocol A with a conditioned category; B, swaps, reconstructions do not apply
        result, protocols = evaluate_generator(model, judge, clips, repeats, seed, batch_size), GENERATOR_PROTOCOLS
    return {
        "run": str(run_dir),
        "dataset": config.dataset,
        "variant": config.variant,
        "preset": config.preset,
        "epochs": epochs,
        "test_clips": len(clips),
        "repeats": repeats,
        "seed": seed,
        "std": "population standard deviation over repeats (ddof=0)",
        "units": "Acc: fraction in [0, 1]; H(y|x), H(y): nats (natural log), at most ln K; IS: in [1, K]",
        "protocols": protocols,
        "judge": {
            "path": str(path),
            "heads": judge.heads,
            "test_accuracy": report.get("test_accuracy", {}),
            "meets_required_accuracy": report.get("meets_required_accuracy"),
        },
        **result,
        "confusion_labels": {h["name"]: list(spec.names_of(h["name"], h["classes"])) for h in judge.heads if h["factor"] == "dynamic"},
        "seconds": round(time.perf_counter() - start, 1),
    }


def method_name(result: dict) -> str:
    epochs = f"{result['epochs']} epoch{'' if result['epochs'] == 1 else 's'}"
    return f"{result['variant']} (this run, {epochs}, {result['preset']} preset)"


def write_results(run_dir: Path, result: dict) -> tuple[Path, Path]:
    """``evaluation.json``, ``evaluation.md`` and a confusion-matrix PNG per dynamic head of protocol A."""

    json_path, md_path = Path(run_dir) / RESULT_JSON, Path(run_dir) / RESULT_MARKDOWN
    atomic_write_text(json_path, json.dumps(result, indent=2) + "\n")
    header = (
        f"# Evaluation of {result['run']}\n\n{result['dataset']}, variant {result['variant']}, {result['preset']} preset, "
        f"{result['epochs']} epochs; judge `{result['judge']['path']}`; {result['test_clips']} test clips; "
        f"mean ± std over {result['repeats']} sampling repeats (seed {result['seed']}).\n\n"
    )
    missing = "".join(f"\n\nNot applicable to {result['variant']}: {what} ({why})." for what, why in result.get("not_applicable", {}).items())
    atomic_write_text(md_path, header + as_markdown(result, method_name(result)) + missing + "\n")
    for head, matrices in result.get("confusion", {}).items():
        title = f"protocol A, {head}: {result['variant']} ({result['repeats']} repeats); rows true, columns judged (%)"
        atomic_write_bytes(Path(run_dir) / CONFUSION_PNG.format(head=head),
                           confusion_png(np.asarray(matrices["a"]), result["confusion_labels"][head], title))
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_dir = Path(args.run)
    result = evaluate_run(run_dir, args.judge, args.data_dir, args.repeats, args.batch_size, args.seed, args.max_clips)

    print(f"{run_dir}: {result['dataset']}, {result['test_clips']} test clips, {result['repeats']} repeats (mean ± std)")
    print(as_text(result, method_name(result)))
    for what, why in result.get("not_applicable", {}).items():
        print(f"not applicable to {result['variant']}: {what} ({why})")
    if result["judge"]["meets_required_accuracy"] is False:
        print(f"warning: the judge {result['judge']['path']} is below 99% on some head of real test clips; "
              "these numbers are not comparable with the paper's", file=sys.stderr)
    json_path, md_path = write_results(run_dir, result)
    print(f"wrote {json_path} and {md_path} ({result['seconds']:.0f} s)")
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="s3vae_tf.evaluate")
