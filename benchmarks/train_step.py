"""Training throughput and peak memory of S3VAE on this machine.

Each configuration runs in a fresh process (clean peak RSS, its own TensorFlow settings): a warm-up
epoch (tracing, allocation) and then ``--steps`` timed steps; the figure is the median step time over
the timed steps, reported as clips/s. Peak RSS is the process's maximum resident set (ru_maxrss).

    python benchmarks/train_step.py                       # the default suite, JSON to benchmarks/results/
    python benchmarks/train_step.py --suite experiments   # option sweep (XLA, unroll, oneDNN, ...)
    python benchmarks/train_step.py --suite lean          # model.lean_backward on vs off (speed and memory)
    python benchmarks/train_step.py --suite gpu           # on a GPU host: batch 128 and 512, mixed precision, XLA

For the paper's preset each result also projects a paper run: 300 epochs of 9000 Sprites clips at that
batch size and step time (``paper_300_epochs_h``).

Run it on an idle machine: the numbers are only as quiet as the CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/machine.py, beside this script

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

# The original PyTorch S3VAE on the same machine class (2 cores, AVX-512, fp32, PyTorch 2.13, 2 threads),
# as measured and reported in issue 7; quoted here for the comparison table, never re-measured by this script.
ORIGINAL_PYTORCH = {
    "batch 32": {"clips_per_s": 6.0, "step_s": 5.3, "peak_rss_gb": 1.8},
    "batch 128": {"clips_per_s": 4.8, "step_s": 26.7, "peak_rss_gb": 5.7},
}

SUITES = {
    "default": [
        {"name": "paper b32", "preset": "paper", "batch": 32},
        {"name": "paper b128", "preset": "paper", "batch": 128},
        {"name": "paper b32, real Sprites pipeline", "preset": "paper", "batch": 32, "data": "sprites"},
        {"name": "quick b32", "preset": "quick", "batch": 32},
        {"name": "quick b32, real Sprites pipeline", "preset": "quick", "batch": 32, "data": "sprites"},
        {"name": "paper b32, real pipeline vs in memory, alternating", "preset": "paper", "batch": 32, "data": "alternate"},
        {"name": "quick b32, real pipeline vs in memory, alternating", "preset": "quick", "batch": 32, "data": "alternate"},
    ],
    "lean": [  # model.lean_backward (default on) against off, one configuration after another
        {"name": "paper b32", "preset": "paper", "batch": 32},
        {"name": "paper b32, lean backward off", "preset": "paper", "batch": 32, "lean": False},
        {"name": "paper b128", "preset": "paper", "batch": 128},
        {"name": "paper b128, lean backward off", "preset": "paper", "batch": 128, "lean": False},
        {"name": "quick b32", "preset": "quick", "batch": 32},
        {"name": "quick b32, lean backward off", "preset": "quick", "batch": 32, "lean": False},
    ],
    "experiments": [
        {"name": "paper b32 baseline", "preset": "paper", "batch": 32},
        {"name": "paper b32 jit", "preset": "paper", "batch": 32, "jit": "on"},
        {"name": "paper b32 unroll", "preset": "paper", "batch": 32, "unroll": True},
        {"name": "paper b32 oneDNN off", "preset": "paper", "batch": 32, "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
        {"name": "paper b32 steps_per_execution 4", "preset": "paper", "batch": 32, "spe": 4},
        {"name": "paper b32 bfloat16", "preset": "paper", "batch": 32, "precision": "bfloat16"},
        {"name": "paper b32 variant baseline", "preset": "paper", "batch": 32, "variant": "baseline"},
    ],
    "gpu": [
        {"name": "paper b128 float32", "preset": "paper", "batch": 128},
        {"name": "paper b128 bfloat16 XLA", "preset": "paper", "batch": 128, "precision": "bfloat16", "jit": "on"},
        {"name": "paper b128 float16 XLA", "preset": "paper", "batch": 128, "precision": "float16", "jit": "on"},
        {"name": "paper b512 bfloat16 XLA", "preset": "paper", "batch": 512, "precision": "bfloat16", "jit": "on"},
        {"name": "paper b512 float16 XLA", "preset": "paper", "batch": 512, "precision": "float16", "jit": "on"},
        {"name": "paper b128 bfloat16 XLA, real Sprites pipeline", "preset": "paper", "batch": 128,
         "precision": "bfloat16", "jit": "on", "data": "sprites"},
    ],
}
SPRITES_TRAIN_CLIPS = 9000
PAPER_EPOCHS = 300


def alternate(model, memory, sprites, batch: int, warmup: int, steps: int, clock, stamps: list[float]) -> dict:
    """The same model stepping on a batch in memory and on the real pipeline, in turns of 3 timed steps, so
    that load changes on the machine reach both alike (two processes timing one configuration differ by
    up to 9% here)."""
    for data in (memory, sprites):
        model.fit(data, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)
    times: dict[str, list[float]] = {"memory": [], "sprites": []}
    for _ in range(-(-steps // 3)):
        for name, data in (("memory", memory), ("sprites", sprites)):
            stamps.clear()
            model.fit(data, epochs=1, steps_per_epoch=4, verbose=0, shuffle=False, callbacks=[clock()])
            times[name] += [b - a for a, b in zip(stamps, stamps[1:])]
    memory_s, sprites_s = statistics.median(times["memory"]), statistics.median(times["sprites"])
    return {
        "step_s_median": sprites_s,
        "clips_per_s": batch / sprites_s,
        "in_memory_step_s_median": memory_s,
        "in_memory_clips_per_s": batch / memory_s,
        "real_over_in_memory_clips_per_s": memory_s / sprites_s,
        "step_s_min": min(times["sprites"]),
        "step_s_all": times["sprites"],
        "in_memory_step_s_all": times["memory"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "params": model.count_params(),
    }


def worker(spec: dict) -> dict:
    """Measure one configuration in this process."""
    import numpy as np

    from s3vae_tf.config import RunConfig, apply_preset

    config = apply_preset(RunConfig(variant=spec.get("variant", "full")), spec["preset"])
    config.model.unroll = bool(spec.get("unroll", False))
    config.model.lean_backward = bool(spec.get("lean", True))
    config.train.batch_size = spec["batch"]

    import keras
    import tensorflow as tf

    from s3vae_tf.data import registry
    from s3vae_tf.data.pipeline import ClipSource, training_dataset
    from s3vae_tf.run_directory import build_model

    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[spec.get("precision", "off")]
    keras.mixed_precision.set_global_policy(policy)
    spec_ds = registry.get("sprite")
    batch, steps, warmup = spec["batch"], spec["steps"], spec["warmup"]

    def in_memory() -> tf.data.Dataset:  # one fixed batch, no pipeline work
        rng = np.random.default_rng(0)
        frames = (rng.integers(0, 256, (batch, 8, 64, 64, 3)) / 256.0).astype("float32")
        one = {
            "frames": frames,
            "positive_order": np.stack([rng.permutation(8) for _ in range(batch)]).astype("int32"),
            "flow_moving": rng.integers(0, 2, (batch, 7, 9)).astype("uint8"),
            "flow_direction": rng.integers(0, 8, (batch, 7, 9)).astype("uint8"),
            "static_labels": rng.integers(0, 6, (batch, 4)).astype("int32"),
            "dynamic_labels": rng.integers(0, 9, (batch, 8, 1)).astype("int32"),
        }
        return tf.data.Dataset.from_tensors(one).repeat()

    size = 9000
    if spec.get("data") in ("sprites", "alternate"):
        from s3vae_tf.config import DataConfig

        arrays = registry.load("sprite", DataConfig(data_dir=spec["data_dir"]))["train"]
        sprites = training_dataset(ClipSource(arrays, spec_ds.pixel_scale), batch, 4 * (warmup + steps), 0, 1, seed=0)
        size = len(arrays["frames"])
    dataset = sprites if spec.get("data") == "sprites" else in_memory()
    model = build_model(config, spec_ds, dataset_size=size)
    jit = {"auto": "auto", "on": True, "off": False}[spec.get("jit", "off")]
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=jit, steps_per_execution=spec.get("spe", 1))

    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            stamps.append(time.perf_counter())

    if spec.get("data") == "alternate":
        return alternate(model, in_memory(), sprites, batch, warmup, steps, Clock, stamps)

    spe = spec.get("spe", 1)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)
    warm_s = time.perf_counter() - start
    stamps.append(time.perf_counter())
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[Clock()])
    per_call = [b - a for a, b in zip(stamps, stamps[1:])][1:] if len(stamps) > 2 else [stamps[-1] - stamps[0]]
    step_s = statistics.median(per_call) / spe
    projection = {}
    if spec["preset"] == "paper":
        projection["paper_300_epochs_h"] = PAPER_EPOCHS * (SPRITES_TRAIN_CLIPS // batch) * step_s / 3600
    return {
        **projection,
        "step_s_median": step_s,
        "step_s_min": min(per_call) / spe,
        "clips_per_s": batch / step_s,
        "step_s_all": per_call,
        "warmup_s": warm_s,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "params": model.count_params(),
    }


def run_suite(specs: list[dict], args) -> list[dict]:
    results = []
    for spec in specs:
        spec = {"steps": args.steps, "warmup": args.warmup, "data_dir": args.data_dir, **spec}
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **spec.get("env", {})}
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(spec)], cwd=REPO, env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(f"{spec['name']}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
            results.append({**spec, "error": proc.stderr[-2000:]})
            continue
        result = {**spec, **json.loads(proc.stdout.strip().splitlines()[-1])}
        print(f"{spec['name']:<40} {result['clips_per_s']:7.2f} clips/s  {result['step_s_median']:6.2f} s/step "
              f"(min {result['step_s_min']:.2f})  "
              f"peak RSS {result['peak_rss_gb']:.2f} GB", flush=True)
        results.append(result)
    return results


def machine() -> dict:
    import tensorflow as tf

    gpus = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "gpus": gpus, "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="default")
    parser.add_argument("--steps", type=int, default=15, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing, allocation)")
    parser.add_argument("--data-dir", default=os.environ.get("S3VAE_DATA_DIR", "/tmp/s3data"), help="prepared Sprites")
    parser.add_argument("--only", default="", help="run only configurations whose name contains this")
    parser.add_argument("--out", default="")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    import tensorflow as tf

    specs = [s for s in SUITES[args.suite] if args.only in s["name"]]
    results = run_suite(specs, args)
    out = Path(args.out or RESULTS / f"train_step_{args.suite}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "tensorflow": tf.__version__,
        "original_pytorch_same_machine_class": ORIGINAL_PYTORCH,
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
