"""Serving overhead: the backend's own batch-1 swaps/s in-process vs served over loopback, float JSON and images.

In one run, in alternating rounds on the same export:

* **in-process**: the serving backend (``serving.backends.load``, the server's thread settings) called directly
  by ``--concurrency`` threads, as the server's workers call it: ``swap`` (float arrays) and ``swap_images``
  (two PNG film strips in, two out; Pillow decoding and encoding included).
* **served**: ``python -m serving`` in its own process (so its memory is measured alone), 1, 4 and 16 client
  threads with keep-alive connections sending batch-1 swaps: TF Serving's columnar JSON with float clips
  (``swap``, ~2.2 MB each way for Sprites) and the image form (``swap_images``, clips as ``{"b64": ...}``).

Per phase: throughput, latency p50/p99 (request sent -> response checked), errors (anything but a correct 200;
the script exits 1 if any) and the server's resident memory. The JSON also gives served / in-process per form.

    python benchmarks/serve_load.py --data-dir /tmp/s3data          # fresh paper-size model, real Sprites clips
    python benchmarks/serve_load.py --export-dir exports/sprite    # an existing export and its sample clips

Without ``--export-dir`` the weights are a freshly initialised paper-size model (speed does not depend on the
weights). Clips: the export's samples, else two real Sprites test clips from ``--data-dir``, else uniform
random ones (incompressible, so the image form is then larger than it is for real clips). JSON goes to
benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CLIENTS = (1, 4, 16)
PNG_MAGIC = b"\x89PNG"


def paper_export(tmp: Path) -> Path:
    """A fresh paper-size model saved through a run directory and exported (onnx + savedmodel, no samples)."""
    from export.exporter import ExportRequest, export_run
    from s3vae_tf.config import RunConfig
    from s3vae_tf.data import registry
    from s3vae_tf.run_directory import CHECKPOINTS, CONFIG, RunCheckpoint, build_model

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(ms: list[float]) -> dict:
    values = np.array(ms)
    if not len(values):
        return {}
    return {"p50": round(float(np.percentile(values, 50)), 1), "p99": round(float(np.percentile(values, 99)), 1)}


def run_threads(worker: Callable[[], None], count: int) -> float:
    """Run ``worker`` on ``count`` threads until all return; the wall time in seconds."""
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def served_round(url: str, body: bytes, check: Callable[[bytes], bool], clients: int, requests: int) -> dict:
    """``requests`` predict calls from ``clients`` threads; latency of each, and every failure counted.

    The clients use the standard library's keep-alive ``http.client``: it costs the shared cores far less per
    request than httpx, so the numbers measure the server rather than the load generator.
    """
    address = urllib.parse.urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = [0]

    def worker():
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
        while True:
            with lock:
                if issued[0] >= requests:
                    connection.close()
                    return
                issued[0] += 1
            started = time.perf_counter()
            try:
                connection.request("POST", "/v1/models/s3vae:predict", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                content = response.read()
                ok = response.status == 200 and check(content)
                failure = None if ok else f"{response.status}: {content[:200]!r}"
            except Exception as exc:  # noqa: BLE001  (every failure counts as an error)
                failure = f"{exc.__class__.__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
            elapsed = time.perf_counter() - started
            with lock:
                (errors.append(failure) if failure else latencies.append(elapsed * 1000))

    wall = run_threads(worker, clients)
    return {
        "clients": clients,
        "requests": requests,
        "ok": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "swaps_per_s": round(len(latencies) / wall, 2),
        "latency_ms": latency(latencies),
    }


def in_process_round(backend, signature: str, feeds: dict, workers: int, calls: int) -> dict:
    """``calls`` backend.predict calls from ``workers`` threads, as the server's workers make them."""
    latencies: list[float] = []
    lock = threading.Lock()
    issued = [0]

    def worker():
        while True:
            with lock:
                if issued[0] >= calls:
                    return
                issued[0] += 1
            started = time.perf_counter()
            backend.predict(signature, feeds)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed * 1000)

    cpu = time.process_time()
    wall = run_threads(worker, workers)
    return {
        "workers": workers,
        "calls": calls,
        "seconds": round(wall, 2),
        "swaps_per_s": round(calls / wall, 2),
        "latency_ms": latency(latencies),
        "cpu_ms_per_call": round((time.process_time() - cpu) * 1000 / calls, 1),
    }


def clips_for(export_dir: Path, meta: dict, data_dir: Path | None) -> tuple[np.ndarray, str]:
    """Two uint8 clips (2, T, H, W, C): the export's samples, real Sprites test clips, or uniform random."""
    from serving.onnx_runtime import read_gif

    samples = [export_dir / s["file"] for s in meta.get("samples", [])[:2]]
    if len(samples) == 2 and all(path.is_file() for path in samples):
        return np.stack([read_gif(path) for path in samples]), "the export's sample clips 0 and 1"
    if data_dir is not None and meta.get("dataset") == "sprite":
        from s3vae_tf.config import DataConfig
        from s3vae_tf.data import registry

        test = registry.load("sprite", DataConfig(data_dir=str(data_dir)))["test"]["frames"]
        return np.asarray(test[:2]), f"Sprites test clips 0 and 1 from {data_dir}"
    shape = (2, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8), "uniform random pixels"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-dir", type=Path, help="an export directory (default: a fresh paper-size model)")
    parser.add_argument("--data-dir", type=Path, help="a prepared data root: real Sprites clips for a fresh model")
    parser.add_argument("--backend", choices=["onnx", "savedmodel"], default="onnx")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of every phase (default 2)")
    parser.add_argument("--image-requests", type=int, default=400, help="image requests per client count per round (default 400)")
    parser.add_argument("--float-requests", type=int, default=60, help="float requests per client count per round (default 60)")
    parser.add_argument("--calls", type=int, default=200, help="in-process calls per signature per round (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="requests of each form before measuring (default 10)")
    parser.add_argument("--concurrency", type=int, default=2, help="the server's --concurrency (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="the server's --threads (default: its own default)")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(REPO))
    import orjson

    from serving import backends, clip_images

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.concurrency)  # the server's default
    with tempfile.TemporaryDirectory(prefix="s3vae-serve-load-") as tmp:
        export_dir = args.export_dir
        if export_dir is None:
            print("exporting a fresh paper-size model (untrained weights)", flush=True)
            export_dir = paper_export(Path(tmp))
        meta = json.loads((export_dir / "metadata.json").read_text())
        pixels, clip_source = clips_for(export_dir, meta, args.data_dir)
        floats = (pixels / np.float32(meta["pixel_scale"])).astype(np.float32)
        strips = [clip_images.film_strip_png(clip) for clip in pixels]
        float_feeds = {"clip_a": floats[:1], "clip_b": floats[1:]}
        image_feeds = {"clip_a_bytes": strips[:1], "clip_b_bytes": strips[1:]}
        bodies = {
            "float": orjson.dumps({"signature_name": "swap", "inputs": float_feeds}, option=orjson.OPT_SERIALIZE_NUMPY),
            "image": json.dumps(
                {
                    "signature_name": "swap_images",
                    "inputs": {name: [{"b64": base64.b64encode(v[0]).decode()}] for name, v in image_feeds.items()},
                }
            ).encode(),
        }
        frame_shape = [1, *floats.shape[1:]]
        response_bytes: dict[str, int] = {}

        def check_float(content: bytes) -> bool:
            response_bytes["float"] = len(content)
            out = orjson.loads(content)["outputs"]
            return _shape(out["a_with_b_appearance"]) == frame_shape and _shape(out["b_with_a_appearance"]) == frame_shape

        def check_image(content: bytes) -> bool:
            response_bytes["image"] = len(content)
            out = orjson.loads(content)["outputs"]
            return all(
                len(out[name]) == 1 and base64.b64decode(out[name][0]["b64"]).startswith(PNG_MAGIC)
                for name in ("a_with_b_appearance_bytes", "b_with_a_appearance_bytes")
            )

        checks = {"float": check_float, "image": check_image}
        counts = {"float": args.float_requests, "image": args.image_requests}
        signatures = {"float": ("swap", float_feeds), "image": ("swap_images", image_feeds)}

        print(f"in-process backend ({args.backend}, {threads} thread(s) per call, {args.concurrency} workers)", flush=True)
        backend = backends.load(args.backend, export_dir, threads=threads)
        server = Server(export_dir, args.backend, args.concurrency, args.threads, queue=max(16, max(CLIENTS)))
        rounds = []
        try:
            load_before = os.getloadavg()
            memory = {"after_start": rss_mb(server.process.pid)}
            for form in ("float", "image"):
                served_round(server.url, bodies[form], checks[form], 1, args.warmup)
                in_process_round(backend, *signatures[form], args.concurrency, args.warmup)
            memory["after_warmup"] = rss_mb(server.process.pid)
            for i in range(args.rounds):
                result: dict = {"round": i + 1, "in_process": {}, "served": {}}
                for form in ("float", "image"):
                    result["in_process"][form] = {}
                    for workers in sorted({1, args.concurrency}):
                        measured = in_process_round(backend, *signatures[form], workers, args.calls)
                        result["in_process"][form][str(workers)] = measured
                        print(f"round {i + 1} in-process {form} x{workers}: {json.dumps(measured)}", flush=True)
                    result["served"][form] = []
                    for clients in CLIENTS:
                        server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
                        served = served_round(server.url, bodies[form], checks[form], clients, counts[form])
                        done = max(1, served["ok"] + served["errors"])
                        served["server_cpu_ms_per_request"] = round((cpu_seconds(server.process.pid) - server_cpu) * 1000 / done, 1)
                        served["client_cpu_ms_per_request"] = round((time.process_time() - client_cpu) * 1000 / done, 1)
                        served["rss_mb_after"] = rss_mb(server.process.pid)
                        result["served"][form].append(served)
                        print(f"round {i + 1} served {form} x{clients}: {json.dumps(served)}", flush=True)
                rounds.append(result)
            load_after = os.getloadavg()
        finally:
            server.stop()

    import onnxruntime

    errors = sum(s["errors"] for r in rounds for form in r["served"].values() for s in form)
    summary = {}
    for form in ("float", "image"):
        in_process = {
            workers: float(np.median([r["in_process"][form][workers]["swaps_per_s"] for r in rounds]))
            for workers in rounds[0]["in_process"][form]
        }
        summary[form] = {
            "in_process_swaps_per_s": {f"{workers} workers": round(rate, 2) for workers, rate in in_process.items()},
            "in_process_cpu_ms_per_call": float(
                np.median([r["in_process"][form][str(args.concurrency)]["cpu_ms_per_call"] for r in rounds])
            ),
            "requests": sum(s["ok"] + s["errors"] for r in rounds for s in r["served"][form]),
            "request_bytes": len(bodies[form]),
            "response_bytes": response_bytes.get(form),
            "served": {},
        }
        for k, clients in enumerate(CLIENTS):
            runs = [r["served"][form][k] for r in rounds]
            rate = float(np.median([run["swaps_per_s"] for run in runs]))
            workers = str(min(clients, args.concurrency))  # as many model calls at once as the server can make
            summary[form]["served"][str(clients)] = {
                "swaps_per_s": round(rate, 2),
                "of_in_process": round(rate / in_process[workers], 3),
                "in_process_workers_compared": int(workers),
                "server_cpu_ms_per_request": float(np.median([run["server_cpu_ms_per_request"] for run in runs])),
                "client_cpu_ms_per_request": float(np.median([run["client_cpu_ms_per_request"] for run in runs])),
                "latency_ms_p50": float(np.median([run["latency_ms"].get("p50", np.nan) for run in runs])),
                "latency_ms_p99": float(np.median([run["latency_ms"].get("p99", np.nan) for run in runs])),
                "errors": sum(run["errors"] for run in runs),
                "rss_mb_after": runs[-1]["rss_mb_after"],
            }
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
            "server_concurrency": args.concurrency,
            "server_threads": threads,
            "clients": list(CLIENTS),
            "rounds": args.rounds,
            "image_requests_per_client_count_per_round": args.image_requests,
            "float_requests_per_client_count_per_round": args.float_requests,
            "in_process_calls_per_round": args.calls,
            "warmup": args.warmup,
            "clips": clip_source,
            "request": "swap / swap_images, batch 1, columnar JSON",
        },
        "summary": summary,
        "rounds": rounds,
        "errors": errors,
        "memory_mb": {**memory, "after_last_phase": rounds[-1]["served"]["image"][-1]["rss_mb_after"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"errors: {errors}; memory (MiB): {report['memory_mb']}; wrote {args.out}")
    return 1 if errors else 0


def _shape(nested) -> list[int]:
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0] if nested else None
    return shape


if __name__ == "__main__":
    sys.exit(main())
