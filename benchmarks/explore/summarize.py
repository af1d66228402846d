"""Collect exploratory runs' probe and gradient-share rows (RUN_DIR/steps.csv) into one JSON file.

    python benchmarks/explore/summarize.py --out benchmarks/results/explore_sprites_short.json /tmp/runs/e2-dfp10 ...
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    out = {"note": args.note, "runs": {}}
    for run in map(Path, args.runs):
        config = json.loads((run / "config.json").read_text())
        rows = [{k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader((run / "steps.csv").open())]
        out["runs"][run.name] = {"loss": config["loss"], "preset": config["preset"], "steps": rows}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
