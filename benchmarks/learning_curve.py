"""Protocol-A accuracy against training minutes, from the runs' ``steps.csv`` (the training probe).

    python benchmarks/learning_curve.py --runs runs/cpu-full runs/cpu-baseline runs/cpu-baseline-sv \\
        --out docs/images/sprites-cpu-learning-curve.png

Each curve is the probe's protocol-A accuracy (256 fixed test clips, one draw of z_f) at every
``--probe-every`` steps, plotted against the run's training minutes (steps only: probes and diagnostics are
not counted). The full evaluation (all test clips, 5 repeats) of the last checkpoint is in README's table.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)


def curve(run_dir: Path, column: str) -> tuple[list[float], list[float]]:
    rows = [r for r in csv.DictReader((run_dir / "steps.csv").open()) if r.get(column) not in (None, "")]
    return [float(r["train_minutes"]) for r in rows], [100 * float(r[column]) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--column", default="a_action", help="steps.csv column (default: a_action)")
    parser.add_argument("--title", default="Sprites, protocol A (probe: 256 test clips) vs training time, 2-core CPU")
    args = parser.parse_args()
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    for run in args.runs:
        minutes, values = curve(Path(run), args.column)
        axis.plot(minutes, values, marker="o", markersize=3, label=Path(run).name)
    axis.set_xlabel("training minutes (steps only)")
    axis.set_ylabel(f"{args.column} accuracy (%)")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    axis.set_title(args.title, fontsize=9)
    figure.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
