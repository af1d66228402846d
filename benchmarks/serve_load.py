"""Load on the embedded server: N concurrent clients send a fixed number of swap requests over loopback.

Starts ``python -m serving`` in its own process (so its memory is measured alone), warms it up, then runs
``--rounds`` rounds of ``--requests`` batch-1 swap requests (TF Serving's columnar JSON, the body built
once per client) from ``--clients`` threads, each with its own keep-alive connection. Per round: throughput,
latency p50/p90/p99/max (request sent -> response parsed), the error count (anything but a correct 200;
must be 0, else the script exits 1), and the server's resident memory after it. Memory growth from the
first round to the last shows whether requests leak; the first round may still grow allocator pools.

    python benchmarks/serve_load.py                        # fresh paper-size model, exported (onnx) to a temp dir
    python benchmarks/serve_load.py --export-dir DIR       # an existing export instead
    nice -n 10 python benchmarks/serve_load.py --clients 8 --requests 400

Without ``--export-dir`` the weights are a freshly initialised paper-size model (speed does not depend on the
weights) and the clips uniform random in [0, 1). JSON goes to benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def paper_export(tmp: Path) -> Path:
    """A fresh paper-size model saved through a run directory and exported (onnx + savedmodel, no samples)."""
    from export.exporter import ExportRequest, export_run
    from s3vae_tf.config import RunConfig
    from s3vae_tf.data import registry
    from s3vae_tf.training.run import CHECKPOINTS, CONFIG, RunCheckpoint, build_model

    config = RunConfig()  # the paper preset
    run_dir = tmp / "run"
    run_dir.mkdir(parents=True)
    config.save(run_dir / CONFIG)
    RunCheckpoint(build_model(config, registry.get(config.dataset)), run_dir / CHECKPOINTS).save(0)
    out = tmp / "export"
    export_run(
        ExportRequest(run_dir=run_dir, out=out, formats=("savedmodel", "onnx"), samples=0), log=lambda m: print(m, flush=True)
    )
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


class Server:
    def __init__(self, export_dir: Path, backend: str, concurrency: int, threads: int | None, queue: int):
        command = [
            sys.executable,
            "-m",
            "serving",
            "--export-dir",
            str(export_dir),
            "--port",
            "0",
            "--backend",
            backend,
            "--concurrency",
            str(concurrency),
            "--queue",
            str(queue),
            "--no-page",
        ]
        if threads:
            command += ["--threads", str(threads)]
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("serving "):
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.url = line.rsplit(" on ", 1)[1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def run_round(url: str, body: bytes, shape: list[int], clients: int, requests: int) -> dict:
    """``requests`` swap calls from ``clients`` threads; latency of each, and every failure counted."""
    import httpx
    import orjson

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = [0]

    def worker():
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    if issued[0] >= requests:
                        return
                    issued[0] += 1
                started = time.perf_counter()
                try:
                    response = http.post(
                        f"{url}/v1/models/s3vae:predict", content=body, headers={"Content-Type": "application/json"}
                    )
                    out = orjson.loads(response.content)
                    ok = response.status_code == 200 and _shape(out["outputs"]["a_with_b_appearance"]) == shape
                    failure = None if ok else f"{response.status_code}: {str(out)[:200]}"
                except Exception as exc:  # noqa: BLE001  (every failure counts as an error)
                    failure = f"{exc.__class__.__name__}: {exc}"
                elapsed = time.perf_counter() - started
                with lock:
                    (errors.append(failure) if failure else latencies.append(elapsed))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": requests,
        "ok": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2),
        "latency_ms": {q: round(float(np.percentile(ms, p)), 1) for q, p in (("p50", 50), ("p90", 90), ("p99", 99))}
        | {"max": round(float(ms.max()), 1)}
        if len(ms)
        else {},
    }


def _shape(nested) -> list[int]:
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0] if nested else None
    return shape


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-dir", type=Path, help="an export directory (default: a fresh paper-size model)")
    parser.add_argument("--backend", choices=["onnx", "savedmodel"], default="onnx")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--requests", type=int, default=200, help="swap requests per round (default 200)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, memory read after each (default 2)")
    parser.add_argument("--warmup", type=int, default=10, help="requests before the first measurement (default 10)")
    parser.add_argument("--concurrency", type=int, default=2, help="the server's --concurrency (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="the server's --threads (default: its own default)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(REPO))

    with tempfile.TemporaryDirectory(prefix="s3vae-serve-load-") as tmp:
        export_dir = args.export_dir
        if export_dir is None:
            print("exporting a fresh paper-size model (untrained weights)", flush=True)
            export_dir = paper_export(Path(tmp))
        meta = json.loads((export_dir / "metadata.json").read_text())
        shape = [1, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"]]
        rng = np.random.default_rng(0)
        clips = {k: rng.random(shape, dtype=np.float32) for k in ("clip_a", "clip_b")}
        import orjson

        body = orjson.dumps({"signature_name": "swap", "inputs": clips}, option=orjson.OPT_SERIALIZE_NUMPY)
        server = Server(export_dir, args.backend, args.concurrency, args.threads, queue=max(16, args.clients))
        try:
            load_before = os.getloadavg()
            memory = {"after_start": rss_mb(server.process.pid)}
            warm = run_round(server.url, body, shape, 1, args.warmup)
            memory["after_warmup"] = rss_mb(server.process.pid)
            rounds = []
            for i in range(args.rounds):
                print(f"round {i + 1}: {args.requests} swap requests from {args.clients} clients", flush=True)
                result = run_round(server.url, body, shape, args.clients, args.requests)
                result["rss_mb_after"] = rss_mb(server.process.pid)
                rounds.append(result)
                print(json.dumps(result), flush=True)
            load_after = os.getloadavg()
        finally:
            server.stop()

    import onnxruntime

    errors = warm["errors"] + sum(r["errors"] for r in rounds)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "versions": {"onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
        "model": {
            "weights": f"export {args.export_dir}" if args.export_dir else "freshly initialised paper-size model (untrained)",
            "architecture": meta["model"],
        },
        "settings": {
            "backend": args.backend,
            "clients": args.clients,
            "requests_per_round": args.requests,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "server_concurrency": args.concurrency,
            "server_threads": args.threads or max(1, (os.cpu_count() or 1) // args.concurrency),  # the server's default
            "request": "swap, batch 1, columnar JSON, uniform random clips",
            "request_bytes": len(body),
        },
        "rounds": rounds,
        "errors": errors,
        "memory_mb": {**memory, **{f"after_round_{i + 1}": r["rss_mb_after"] for i, r in enumerate(rounds)}},
        "memory_growth_mb_first_to_last_round": round(rounds[-1]["rss_mb_after"] - rounds[0]["rss_mb_after"], 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"errors: {errors}; memory (MiB): {report['memory_mb']}; wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
