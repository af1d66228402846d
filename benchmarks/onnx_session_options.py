"""ONNX Runtime session options for the float32 batch-1 swap: graph optimisation levels and a saved optimised
model, called alternately in one process (ratios that load cannot skew), with session start-up times.

    python benchmarks/onnx_session_options.py --export EXPORT_DIR [--note "..."]

JSON: benchmarks/results/onnx_session_options.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all (default)": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def _options(level) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = level
    return options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=RESULTS / "onnx_session_options.json")
    args = parser.parse_args(argv)
    meta = json.loads((args.export / "metadata.json").read_text())
    path = str(args.export / meta["paths"]["onnx"]["swap"])
    sessions, start_s = {}, {}
    saved = Path(tempfile.mkdtemp()) / "swap-optimised.onnx"
    for name, level in LEVELS.items():
        options = _options(level)
        if level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL:
            options.optimized_model_filepath = str(saved)
        started = time.perf_counter()
        sessions[name] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        start_s[name] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    name = "saved optimised model, optimisation off"
    sessions[name] = ort.InferenceSession(str(saved), _options(ort.GraphOptimizationLevel.ORT_DISABLE_ALL), providers=["CPUExecutionProvider"])
    start_s[name] = round(time.perf_counter() - started, 3)
    rng = np.random.default_rng(0)
    shape = (1, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    feeds = {"clip_a": rng.random(shape, np.float32), "clip_b": rng.random(shape, np.float32)}
    for session in sessions.values():
        session.run(None, feeds)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(args.repeats):
        for key, session in sessions.items():
            started = time.perf_counter()
            session.run(None, feeds)
            times[key].append(time.perf_counter() - started)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "export": str(args.export),
        "note": args.note,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "onnxruntime": ort.__version__,
        "swap_b1_p50_ms": {k: round(1e3 * float(np.median(v)), 2) for k, v in times.items()},
        "session_start_s": start_s,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
