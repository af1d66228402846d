"""Inference speed of the exported paper-size model: TF eager, SavedModel, ONNX Runtime and LiteRT on this CPU.

For ``swap`` and ``encode``: latency (p50, p99) at batch 1 and throughput at batch 32, plus the size of
each export. Each runtime is measured in a fresh process (its own thread pools; nothing left spinning
from the previous runtime). Three diagnostics show where the time goes: SavedModel and ONNX Runtime on
one thread each (per-core kernel speed), both called alternately in one process (a ratio that load
coming and going on a shared machine cannot skew), ONNX Runtime with its default spin-waiting worker
threads (serving.onnx_runtime turns spinning off), and ONNX Runtime's profile of a batch-1 swap by op.

    python benchmarks/inference.py                    # fresh paper-size run dir + export in a temp dir
    python benchmarks/inference.py --run RUN_DIR      # a trained run instead (same timings: same FLOPs)

Without ``--run`` the weights are a freshly initialised paper-size model saved through a run directory
(untrained): speed does not depend on the weight values. Inputs are uniform random clips in [0, 1).
JSON goes to benchmarks/results/inference.json. Run it on an idle machine (``nice`` if it is shared).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RUNTIMES = ("tf_eager", "savedmodel", "onnxruntime", "litert")
ENDPOINTS = ("swap", "encode")


def make_paper_run(run_dir: Path) -> None:
    """A run directory holding the paper's Sprites model, freshly initialised, as checkpoint 0."""
    from s3vae_tf.config import RunConfig
    from s3vae_tf.data import registry
    from s3vae_tf.run_directory import CHECKPOINTS, CONFIG, RunCheckpoint, build_model

    config = RunConfig()  # the paper preset
    run_dir.mkdir(parents=True)
    config.save(run_dir / CONFIG)
    model = build_model(config, registry.get(config.dataset))
    RunCheckpoint(model, run_dir / CHECKPOINTS).save(0)


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ worker


def _callables(runtime: str, run_dir: Path, export_dir: Path, meta: dict, threads: int, batch: int, spin: bool = False):
    """endpoint -> zero-argument call running it on fixed random inputs of ``batch`` clips."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (batch, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    a, b = rng.random(shape, np.float32), rng.random(shape, np.float32)
    if runtime in ("tf_eager", "savedmodel"):
        import tensorflow as tf

        ta, tb = tf.constant(a), tf.constant(b)
        if runtime == "tf_eager":
            from s3vae_tf.run_directory import load_trained

            model = load_trained(run_dir)[2]
            return {"swap": lambda: model.swap(ta, tb)[0].numpy(), "encode": lambda: model.encode(ta)["f_mean"].numpy()}
        signatures = tf.saved_model.load(str(export_dir / meta["paths"]["savedmodel"])).signatures
        return {
            "swap": lambda: signatures["swap"](clip_a=ta, clip_b=tb)["a_with_b_appearance"].numpy(),
            "encode": lambda: signatures["encode"](frames=ta)["f_mean"].numpy(),
        }
    if runtime == "onnxruntime":
        sys.path.insert(0, str(REPO))
        from serving.onnx_runtime import OnnxModel

        model = OnnxModel(export_dir, providers=["CPUExecutionProvider"], threads=threads or None, spin=spin)
        return {"swap": lambda: model.swap(a, b), "encode": lambda: model.encode(a)}
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter

        def runner(name):
            path = export_dir / meta["paths"]["tflite"][name]
            return Interpreter(model_path=str(path), num_threads=threads or os.cpu_count()).get_signature_runner(name)

        swap, encode = runner("swap"), runner("encode")
        return {"swap": lambda: swap(clip_a=a, clip_b=b), "encode": lambda: encode(frames=a)}
    raise ValueError(runtime)


def _profile_onnx_swap(export_dir: Path, meta: dict, threads: int) -> dict:
    """Share of onnxruntime's kernel time per op type in a batch-1 swap (20 runs)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(export_dir / meta["paths"]["onnx"]["swap"]), options, providers=["CPUExecutionProvider"])
    shape = (1, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    feeds = {"clip_a": np.random.default_rng(0).random(shape, np.float32), "clip_b": np.random.default_rng(1).random(shape, np.float32)}
    for _ in range(20):
        session.run(None, feeds)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    return {op: round(100 * us / total, 1) for op, us in per_op.most_common(6)}


def paired(spec: dict) -> dict:
    """SavedModel and onnxruntime batch-1 swap called alternately in one process: the ratio is immune to
    load that comes and goes on a shared machine."""
    import numpy as np

    run_dir, export_dir = Path(spec["run_dir"]), Path(spec["export_dir"])
    meta = json.loads((export_dir / "metadata.json").read_text())
    calls = {r: _callables(r, run_dir, export_dir, meta, 0, 1)["swap"] for r in ("savedmodel", "onnxruntime")}
    times: dict = {r: [] for r in calls}
    for call in calls.values():
        for _ in range(spec["warmup"]):
            call()
    for _ in range(spec["repeats"]):
        for runtime, call in calls.items():
            start = time.perf_counter()
            call()
            times[runtime].append(time.perf_counter() - start)
    p50 = {r: 1e3 * float(np.percentile(t, 50)) for r, t in times.items()}
    return {f"{r}_swap_b1_p50_ms": round(v, 2) for r, v in p50.items()} | {"speedup": round(p50["savedmodel"] / p50["onnxruntime"], 2)}


def worker(spec: dict) -> dict:
    """Measure one runtime in this process: batch-1 latencies and batch-N throughput per endpoint."""
    import numpy as np

    if spec["runtime"] == "paired":
        return paired(spec)
    threads, runtime = spec["threads"], spec["runtime"]
    if runtime in ("tf_eager", "savedmodel") and threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    run_dir, export_dir = Path(spec["run_dir"]), Path(spec["export_dir"])
    meta = json.loads((export_dir / "metadata.json").read_text())
    out: dict = {}
    spin = spec.get("spin", False)
    single = _callables(runtime, run_dir, export_dir, meta, threads, 1, spin)
    for endpoint in ENDPOINTS:
        call = single[endpoint]
        for _ in range(spec["warmup"]):
            call()
        times = []
        for _ in range(spec["repeats"]):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        out[endpoint] = {
            "batch1_p50_ms": round(1e3 * float(np.percentile(times, 50)), 2),
            "batch1_p99_ms": round(1e3 * float(np.percentile(times, 99)), 2),
        }
    if spec["batch"]:
        big = _callables(runtime, run_dir, export_dir, meta, threads, spec["batch"], spin)
        for endpoint in ENDPOINTS:
            call = big[endpoint]
            call()
            start = time.perf_counter()
            for _ in range(spec["batch_repeats"]):
                call()
            seconds = time.perf_counter() - start
            out[endpoint][f"batch{spec['batch']}_clips_per_s"] = round(spec["batch"] * spec["batch_repeats"] / seconds, 2)
    if runtime == "onnxruntime" and not spin:
        out["swap"]["profile_percent_by_op"] = _profile_onnx_swap(export_dir, meta, threads)
    return out


def measure(spec: dict) -> dict:
    """Run :func:`worker` in a fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], env=env, capture_output=True, text=True, cwd=REPO
    )
    if result.returncode != 0:
        raise RuntimeError(f"{spec['runtime']} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ report


def table(report: dict) -> str:
    batch = report["settings"]["batch"]
    lines = [
        f"| runtime | threads | swap p50 / p99 (ms, b=1) | swap clips/s (b={batch}) | encode p50 / p99 (ms, b=1) | encode clips/s (b={batch}) |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        s, e = row["swap"], row["encode"]
        throughput = [str(x.get(f"batch{batch}_clips_per_s", "-")) for x in (s, e)]
        runtime = row["runtime"] + (" (threads spin-wait)" if row.get("spin") else "")
        lines.append(
            f"| {runtime} | {row['threads'] or 'all'} | {s['batch1_p50_ms']} / {s['batch1_p99_ms']} | {throughput[0]} "
            f"| {e['batch1_p50_ms']} / {e['batch1_p99_ms']} | {throughput[1]} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run directory (default: a fresh paper-size model)")
    parser.add_argument("--repeats", type=int, default=50, help="timed batch-1 calls per endpoint (default 50)")
    parser.add_argument("--batch", type=int, default=32, help="batch size of the throughput measurement (default 32)")
    parser.add_argument("--batch-repeats", type=int, default=4, help="timed calls at that batch size (default 4)")
    parser.add_argument("--out", type=Path, default=RESULTS / "inference.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(REPO))
    from export.exporter import ExportRequest, export_run

    with tempfile.TemporaryDirectory(prefix="s3vae-inference-") as tmp:
        run_dir = args.run or Path(tmp) / "run"
        if args.run is None:
            print("building a fresh paper-size model (untrained weights) in a run directory", flush=True)
            make_paper_run(run_dir)
        export_dir = Path(tmp) / "export"
        started = time.perf_counter()
        meta = export_run(ExportRequest(run_dir=run_dir, out=export_dir, samples=0), log=lambda m: print(m, flush=True))
        export_seconds = time.perf_counter() - started
        sizes = {"savedmodel": directory_bytes(export_dir / meta["paths"]["savedmodel"])}
        for fmt in ("onnx", "tflite"):
            sizes.update({f"{fmt}/{name}": (export_dir / rel).stat().st_size for name, rel in meta["paths"][fmt].items()})
        base = {"run_dir": str(run_dir), "export_dir": str(export_dir), "repeats": args.repeats, "warmup": 3}
        plan = [{"runtime": r, "threads": 0, "batch": args.batch} for r in RUNTIMES]
        plan += [{"runtime": r, "threads": 1, "batch": 0} for r in ("savedmodel", "onnxruntime")]
        plan.append({"runtime": "onnxruntime", "threads": 0, "batch": 0, "spin": True})
        rows = []
        load_before = os.getloadavg()
        for spec in plan:
            print(f"measuring {spec['runtime']} (threads: {spec['threads'] or 'all'}{', spinning' if spec.get('spin') else ''})", flush=True)
            rows.append({**spec, **measure({**base, **spec, "batch_repeats": args.batch_repeats})})
        print("measuring SavedModel and onnxruntime alternately (batch-1 swap)", flush=True)
        alternating = measure({**base, "runtime": "paired"})
        load_after = os.getloadavg()

    import onnxruntime
    import tensorflow as tf

    by_name = {(r["runtime"], r["threads"]): r for r in rows if not r.get("spin")}
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "versions": {"tensorflow": tf.__version__, "onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
        "model": {
            "weights": "trained run " + str(args.run) if args.run else "freshly initialised paper-size model (untrained), saved through a run directory",
            "architecture": meta["model"],
        },
        "settings": {"repeats": args.repeats, "batch": args.batch, "batch_repeats": args.batch_repeats, "inputs": "uniform random clips"},
        "export_seconds": round(export_seconds, 1),
        "file_bytes": sizes,
        "rows": [{k: v for k, v in row.items() if k != "batch"} for row in rows],
        "onnxruntime_vs_savedmodel_swap_b1_alternating": alternating,
        "onnxruntime_vs_savedmodel_swap_b1": round(
            by_name[("savedmodel", 0)]["swap"]["batch1_p50_ms"] / by_name[("onnxruntime", 0)]["swap"]["batch1_p50_ms"], 2
        ),
        "onnxruntime_vs_savedmodel_swap_b1_one_thread": round(
            by_name[("savedmodel", 1)]["swap"]["batch1_p50_ms"] / by_name[("onnxruntime", 1)]["swap"]["batch1_p50_ms"], 2
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print("sizes (MB):", {k: round(v / 1e6, 2) for k, v in sizes.items()})
    print("onnxruntime / SavedModel speed-up, batch-1 swap:", report["onnxruntime_vs_savedmodel_swap_b1"],
          "(alternating in one process:", alternating["speedup"], "; one thread each:",
          report["onnxruntime_vs_savedmodel_swap_b1_one_thread"], ")")
    print("onnxruntime batch-1 swap time by op (%):", by_name[("onnxruntime", 0)]["swap"]["profile_percent_by_op"])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
