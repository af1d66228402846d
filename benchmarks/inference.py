"""Inference speed of the exported paper-size model in every format: TF eager, SavedModel, ONNX Runtime
(float32, int8) and LiteRT (float32, fp16, int8), side by side in one run.

Per format and endpoint (``encode``, ``decode``, ``swap``, ``generate``): latency p50 / p99 at batch 1 and
p50 at batch 8 (with clips/s), plus each export's size. Each format is measured in a fresh process (its
own thread pools; nothing left spinning from the previous one). Diagnostics of where the time goes:
SavedModel and ONNX Runtime on one thread each (per-core kernel speed); SavedModel, ONNX float32 and ONNX
int8 batch-1 swaps called alternately in one process (ratios that load coming and going cannot skew);
ONNX Runtime with spin-waiting worker threads (serving.onnx_runtime turns spinning off); and ONNX
Runtime's profile of a batch-1 swap by op, float32 and int8.

    python benchmarks/inference.py --data-dir /tmp/s3data          # fresh paper-size run + export in a temp dir
    python benchmarks/inference.py --run RUN_DIR                    # a trained run instead (same FLOPs)

Without ``--run`` the weights are a freshly initialised paper-size model saved through a run directory
(untrained: speed does not depend on the weight values); ``--data-dir`` holds the Sprites cache whose
training clips calibrate the int8 models. Inputs are real-sized uniform random clips (latents: N(0, I)).
JSON goes to benchmarks/results/inference.json. Run it on an idle machine.
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
# runtime -> (what runs it, export format it reads)
RUNTIMES = {
    "tf_eager": ("tf_eager", None),
    "savedmodel": ("savedmodel", "savedmodel"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "onnxruntime_int8": ("onnxruntime", "onnx_int8"),
    "litert": ("litert", "tflite"),
    "litert_fp16": ("litert", "tflite_fp16"),
    "litert_int8": ("litert", "tflite_int8"),
}
ENDPOINTS = ("encode", "decode", "swap", "generate")
OUTPUT = {"encode": "f_mean", "decode": "frames", "swap": "a_with_b_appearance", "generate": "frames"}


def make_paper_run(run_dir: Path, data_dir: str = "") -> None:
    """A run directory holding the paper's Sprites model, freshly initialised, as checkpoint 0."""
    import dataclasses

    from s3vae_tf.config import RunConfig
    from s3vae_tf.data import registry
    from s3vae_tf.run_directory import CHECKPOINTS, CONFIG, RunCheckpoint, build_model

    config = RunConfig()  # the paper preset
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, data_dir=data_dir))
    run_dir.mkdir(parents=True)
    config.save(run_dir / CONFIG)
    model = build_model(config, registry.get(config.dataset))
    RunCheckpoint(model, run_dir / CHECKPOINTS).save(0)


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ worker


def _inputs(meta: dict, batch: int) -> dict[str, dict]:
    import numpy as np

    rng = np.random.default_rng(0)
    clip = (batch, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    f_dim, z_dim, frames = meta["latents"]["f_dim"], meta["latents"]["z_dim"], meta["frames"]
    return {
        "encode": {"frames": rng.random(clip, np.float32)},
        "decode": {"z_f": rng.standard_normal((batch, f_dim), np.float32), "z_t": rng.standard_normal((batch, frames, z_dim), np.float32)},
        "swap": {"clip_a": rng.random(clip, np.float32), "clip_b": rng.random(clip, np.float32)},
        "generate": {
            "seed": np.arange(batch, dtype=np.int32),
            "z_f": np.zeros((batch, f_dim), np.float32),
            "z_t": np.zeros((batch, frames, z_dim), np.float32),
            "fix_z_f": np.zeros(batch, bool),
            "fix_z_t": np.zeros(batch, bool),
        },
    }


def _callables(runtime: str, run_dir: Path, export_dir: Path, meta: dict, threads: int, batch: int, spin: bool = False):
    """endpoint -> zero-argument call running it on fixed inputs of ``batch`` clips."""
    kind, fmt = RUNTIMES[runtime]
    feeds = _inputs(meta, batch)
    if kind in ("tf_eager", "savedmodel"):
        import tensorflow as tf

        tensors = {e: {k: tf.constant(v) for k, v in f.items()} for e, f in feeds.items()}
        if kind == "tf_eager":
            from s3vae_tf.run_directory import load_trained

            model = load_trained(run_dir)[2]
            t = tensors
            return {
                "encode": lambda: model.encode(t["encode"]["frames"])["f_mean"].numpy(),
                "decode": lambda: model.decode(t["decode"]["z_f"], t["decode"]["z_t"]).numpy(),
                "swap": lambda: model.swap(t["swap"]["clip_a"], t["swap"]["clip_b"])[0].numpy(),
                "generate": lambda: model.generate(batch, seed=0).numpy(),
            }
        signatures = tf.saved_model.load(str(export_dir / meta["paths"]["savedmodel"])).signatures
        return {e: (lambda e=e: signatures[e](**tensors[e])[OUTPUT[e]].numpy()) for e in ENDPOINTS}
    if kind == "onnxruntime":
        sys.path.insert(0, str(REPO))
        from serving.onnx_runtime import OnnxModel

        precision = "int8" if fmt == "onnx_int8" else "float32"
        model = OnnxModel(export_dir, providers=["CPUExecutionProvider"], threads=threads or None, spin=spin, precision=precision)
        return {e: (lambda e=e: model.run_checked(e, feeds[e])[OUTPUT[e]]) for e in ENDPOINTS}
    if kind == "litert":
        from ai_edge_litert.interpreter import Interpreter

        def runner(name):
            path = export_dir / meta["paths"][fmt][name]
            return Interpreter(model_path=str(path), num_threads=threads or os.cpu_count()).get_signature_runner(name)

        runners = {e: runner(e) for e in ENDPOINTS}
        return {e: (lambda e=e: runners[e](**feeds[e])[OUTPUT[e]]) for e in ENDPOINTS}
    raise ValueError(runtime)


def _profile_onnx_swap(export_dir: Path, meta: dict, fmt: str, threads: int) -> dict:
    """Share of onnxruntime's kernel time per op type in a batch-1 swap (20 runs), and the total in ms."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(export_dir / meta["paths"][fmt]["swap"]), options, providers=["CPUExecutionProvider"])
    feeds = _inputs(meta, 1)["swap"]
    for _ in range(20):
        session.run(None, feeds)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    return {"kernel_ms_per_swap": round(total / 20 / 1e3, 2), "percent_by_op": {op: round(100 * us / total, 1) for op, us in per_op.most_common(8)}}


def _timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def paired(spec: dict) -> dict:
    """SavedModel, ONNX float32 and ONNX int8 batch-1 swaps called alternately in one process."""
    import numpy as np

    run_dir, export_dir = Path(spec["run_dir"]), Path(spec["export_dir"])
    meta = json.loads((export_dir / "metadata.json").read_text())
    calls = {r: _callables(r, run_dir, export_dir, meta, 0, 1)["swap"] for r in ("savedmodel", "onnxruntime", "onnxruntime_int8")}
    for call in calls.values():
        for _ in range(spec["warmup"]):
            call()
    times: dict = {r: [] for r in calls}
    for _ in range(spec["repeats"]):
        for runtime, call in calls.items():
            times[runtime] += _timed(call, 1)
    p50 = {r: 1e3 * float(np.percentile(t, 50)) for r, t in times.items()}
    return {f"{r}_swap_b1_p50_ms": round(v, 2) for r, v in p50.items()} | {
        "onnx_vs_savedmodel": round(p50["savedmodel"] / p50["onnxruntime"], 2),
        "onnx_int8_vs_savedmodel": round(p50["savedmodel"] / p50["onnxruntime_int8"], 2),
        "onnx_int8_vs_onnx": round(p50["onnxruntime"] / p50["onnxruntime_int8"], 2),
    }


def worker(spec: dict) -> dict:
    """Measure one runtime in this process: batch-1 latencies and batch-N latency / throughput per endpoint."""
    import numpy as np

    if spec["runtime"] == "paired":
        return paired(spec)
    threads, runtime = spec["threads"], spec["runtime"]
    if RUNTIMES[runtime][0] in ("tf_eager", "savedmodel") and threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    run_dir, export_dir = Path(spec["run_dir"]), Path(spec["export_dir"])
    meta = json.loads((export_dir / "metadata.json").read_text())
    spin = spec.get("spin", False)
    out: dict = {}
    single = _callables(runtime, run_dir, export_dir, meta, threads, 1, spin)
    for endpoint in spec["endpoints"]:
        call = single[endpoint]
        _timed(call, spec["warmup"])
        times = _timed(call, spec["repeats"])
        out[endpoint] = {
            "batch1_p50_ms": round(1e3 * float(np.percentile(times, 50)), 2),
            "batch1_p99_ms": round(1e3 * float(np.percentile(times, 99)), 2),
        }
    if spec["batch"]:
        big = _callables(runtime, run_dir, export_dir, meta, threads, spec["batch"], spin)
        for endpoint in spec["endpoints"]:
            call = big[endpoint]
            call()
            p50 = float(np.percentile(_timed(call, spec["batch_repeats"]), 50))
            out[endpoint][f"batch{spec['batch']}_p50_ms"] = round(1e3 * p50, 2)
            out[endpoint][f"batch{spec['batch']}_clips_per_s"] = round(spec["batch"] / p50, 2)
    kind, fmt = RUNTIMES[runtime]
    if kind == "onnxruntime" and not spin and not threads:
        out["swap"]["profile"] = _profile_onnx_swap(export_dir, meta, fmt, threads)
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
    sizes = report["file_bytes"]
    lines = [
        f"| runtime | threads | swap size (MB) | encode b=1 | decode b=1 | swap b=1 p50 / p99 | generate b=1 | swap b={batch} (clips/s) | generate b={batch} (clips/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        fmt = RUNTIMES[row["runtime"]][1]
        size = sizes.get("savedmodel") if fmt == "savedmodel" else sizes.get(f"{fmt}/swap")
        cell = lambda e, key: str(row[e].get(key, "-")) if e in row else "-"  # noqa: E731
        big = lambda e: (f"{row[e][f'batch{batch}_p50_ms']} ms ({row[e][f'batch{batch}_clips_per_s']})"  # noqa: E731
                         if e in row and f"batch{batch}_p50_ms" in row[e] else "-")
        name = row["runtime"] + (" (threads spin-wait)" if row.get("spin") else "")
        lines.append(
            f"| {name} | {row['threads'] or 'all'} | {round(size / 1e6, 1) if size else '-'} | {cell('encode', 'batch1_p50_ms')} "
            f"| {cell('decode', 'batch1_p50_ms')} | {cell('swap', 'batch1_p50_ms')} / {cell('swap', 'batch1_p99_ms')} "
            f"| {cell('generate', 'batch1_p50_ms')} | {big('swap')} | {big('generate')} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run directory (default: a fresh paper-size model)")
    parser.add_argument("--data-dir", default="", help="data dir with the Sprites cache (int8 calibration) for the fresh model")
    parser.add_argument("--repeats", type=int, default=30, help="timed batch-1 calls per endpoint (default 30)")
    parser.add_argument("--batch", type=int, default=8, help="batch size of the second measurement (default 8)")
    parser.add_argument("--batch-repeats", type=int, default=5, help="timed calls at that batch size (default 5)")
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
            make_paper_run(run_dir, args.data_dir)
        export_dir = Path(tmp) / "export"
        started = time.perf_counter()
        request = ExportRequest(run_dir=run_dir, out=export_dir, samples=0, quantize=("int8", "fp16"))
        meta = export_run(request, log=lambda m: print(m, flush=True))
        export_seconds = time.perf_counter() - started
        sizes = {"savedmodel": directory_bytes(export_dir / meta["paths"]["savedmodel"])}
        for fmt in meta["formats"]:
            if fmt != "savedmodel":
                sizes.update({f"{fmt}/{name}": (export_dir / rel).stat().st_size for name, rel in meta["paths"][fmt].items()})
        base = {"run_dir": str(run_dir), "export_dir": str(export_dir), "repeats": args.repeats, "warmup": 3,
                "batch_repeats": args.batch_repeats, "endpoints": list(ENDPOINTS)}
        plan = [{"runtime": r, "threads": 0, "batch": args.batch} for r in RUNTIMES]
        plan += [{"runtime": r, "threads": 1, "batch": 0, "endpoints": ["swap"]} for r in ("savedmodel", "onnxruntime", "onnxruntime_int8")]
        plan.append({"runtime": "onnxruntime", "threads": 0, "batch": 0, "spin": True, "endpoints": ["swap"]})
        rows = []
        load_before = os.getloadavg()
        for spec in plan:
            print(f"measuring {spec['runtime']} (threads: {spec['threads'] or 'all'}{', spinning' if spec.get('spin') else ''})", flush=True)
            rows.append({**spec, **measure({**base, **spec})})
        print("measuring SavedModel, ONNX float32 and ONNX int8 alternately (batch-1 swap)", flush=True)
        alternating = measure({**base, "runtime": "paired"})
        load_after = os.getloadavg()

    import onnxruntime
    import tensorflow as tf

    by_name = {(r["runtime"], r["threads"]): r for r in rows if not r.get("spin")}
    swap_b1 = lambda runtime, threads=0: by_name[(runtime, threads)]["swap"]["batch1_p50_ms"]  # noqa: E731
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
            "quantization": meta.get("quantization"),
        },
        "settings": {"repeats": args.repeats, "batch": args.batch, "batch_repeats": args.batch_repeats,
                     "inputs": "uniform random clips, N(0, I) latents, seeds 0..B-1"},
        "export_seconds": round(export_seconds, 1),
        "file_bytes": sizes,
        "rows": [{k: v for k, v in row.items() if k not in ("batch", "endpoints")} for row in rows],
        "alternating_swap_b1": alternating,
        "speedups_swap_b1": {
            "onnx_vs_savedmodel": round(swap_b1("savedmodel") / swap_b1("onnxruntime"), 2),
            "onnx_int8_vs_savedmodel": round(swap_b1("savedmodel") / swap_b1("onnxruntime_int8"), 2),
            "onnx_int8_vs_onnx": round(swap_b1("onnxruntime") / swap_b1("onnxruntime_int8"), 2),
            "onnx_vs_savedmodel_one_thread": round(swap_b1("savedmodel", 1) / swap_b1("onnxruntime", 1), 2),
            "onnx_int8_vs_onnx_one_thread": round(swap_b1("onnxruntime", 1) / swap_b1("onnxruntime_int8", 1), 2),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print("sizes (MB):", {k: round(v / 1e6, 2) for k, v in sizes.items()})
    print("batch-1 swap speed-ups:", report["speedups_swap_b1"], "alternating:", alternating)
    for runtime in ("onnxruntime", "onnxruntime_int8"):
        print(f"{runtime} batch-1 swap profile:", by_name[(runtime, 0)]["swap"]["profile"])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
