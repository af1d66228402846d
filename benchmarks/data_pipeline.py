"""Is the data pipeline fast enough? Prepared-dataset throughput next to what the model consumes.

For each dataset: clips/s that ``s3vae_tf.data.pipeline.training_dataset`` delivers from the prepared
cache (batch 32, gathered, cast, with positive orders: everything a train step receives), and clips/s
that a train step of the paper's model consumes at batch 32 (a fixed in-memory batch, so the model alone
is timed; the first step, which traces, is left out). The ratio says how much headroom the pipeline has
(the aim is >= 10x).

    python benchmarks/data_pipeline.py --data-dir /tmp/s3data [--mug-dir ...] [--mnist-dir ... --mnist-train-images ...]

Datasets whose cache is missing are prepared first (``load_or_prepare_s`` in the JSON). MUG is licensed: without
--mug-dir / a prepared cache it is measured on stand-in arrays of MUG's shapes, and marked so in the JSON.
Run it on an idle machine: the numbers are only as quiet as the CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
DATASETS = ("sprite", "smmnist", "dsprites", "mug")
STAND_IN_CLIPS = 1000


def stand_in(spec, clips: int) -> dict:
    """Random arrays with the shapes and dtypes a prepared split of ``spec`` has (for a dataset not at hand)."""
    import numpy as np

    rng = np.random.default_rng(0)
    t, s = spec.frames, spec.frame_size
    arrays = {
        "frames": rng.integers(0, 256, (clips, t, s, s, spec.channels), dtype=np.uint8),
        "static": rng.integers(0, 2, (clips, len(spec.static_heads))).astype(np.int32),
        "dynamic": rng.integers(0, 2, (clips, t, len(spec.dynamic_heads))).astype(np.int32),
    }
    if spec.dfp_signal == "landmarks":
        arrays["landmarks"] = rng.random((clips, t, 3), dtype=np.float32)
    else:
        arrays["flow_moving"] = rng.integers(0, 2, (clips, t - 1, 9)).astype(np.uint8)
        arrays["flow_direction"] = rng.integers(0, 8, (clips, t - 1, 9)).astype(np.uint8)
    return arrays


def load_arrays(name: str, data_config) -> tuple[dict, str, float]:
    """The training split, where it came from, and the seconds spent loading (checksums verified) or preparing it."""
    from s3vae_tf.data import registry
    from s3vae_tf.errors import DataError

    spec = registry.get(name)
    start = time.perf_counter()
    try:
        arrays = registry.load(name, data_config)["train"]
        return arrays, "prepared cache", time.perf_counter() - start
    except DataError as exc:
        if name != "mug":
            raise
        print(f"mug: {exc}; measuring stand-in arrays of MUG's shapes", flush=True)
        return stand_in(spec, STAND_IN_CLIPS), f"stand-in arrays of MUG's shapes ({STAND_IN_CLIPS} clips)", 0.0


def pipeline_rate(source, batch: int, batches: int, warmup: int) -> dict:
    """Clips/s the training pipeline yields (materialised batches), after ``warmup`` batches."""
    from s3vae_tf.data.pipeline import training_dataset

    dataset = training_dataset(source, batch, warmup + batches, 0, 1, seed=0)
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        out = next(iterator)
        out["frames"].numpy()
    seconds = time.perf_counter() - start
    return {"clips_per_s": batch * batches / seconds, "batches": batches}


def model_rate(spec, source, batch: int, steps: int) -> dict:
    """Clips/s a train step of the paper's model consumes (median over ``steps`` steps after a traced one)."""
    import keras
    import tensorflow as tf

    from s3vae_tf.config import RunConfig
    from s3vae_tf.data.pipeline import training_dataset
    from s3vae_tf.run_directory import build_model

    config = RunConfig(dataset=spec.name)
    config.train.batch_size = batch
    one = next(iter(training_dataset(source, batch, 1, 0, 1, seed=0)))
    dataset = tf.data.Dataset.from_tensors(one).repeat()
    model = build_model(config, spec, dataset_size=source.size)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            stamps.append(time.perf_counter())

    stamps.append(time.perf_counter())
    model.fit(dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False, callbacks=[Clock()])
    per_step = [b - a for a, b in zip(stamps, stamps[1:])][1:]
    step_s = statistics.median(per_step)
    return {"clips_per_s": batch / step_s, "step_s_median": step_s, "step_s_all": per_step}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--mnist-dir", default="")
    parser.add_argument("--mnist-train-images", default="")
    parser.add_argument("--mug-dir", default="")
    parser.add_argument("--landmark-model", default="")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pipeline-batches", type=int, default=200)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "data_pipeline.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry
    from s3vae_tf.data.pipeline import ClipSource
    from s3vae_tf.io import atomic_write_text

    data_config = DataConfig(
        data_dir=args.data_dir,
        mnist_dir=args.mnist_dir,
        mnist_train_images=args.mnist_train_images,
        mug_dir=args.mug_dir,
        landmark_model=args.landmark_model,
    )
    rows = {}
    for name in args.datasets:
        spec = registry.get(name)
        arrays, origin, prepare_s = load_arrays(name, data_config)
        source = ClipSource(arrays, spec.pixel_scale)
        pipe = pipeline_rate(source, args.batch_size, args.pipeline_batches, warmup=10)
        model = model_rate(spec, source, args.batch_size, args.train_steps)
        rows[name] = {
            "data": origin,
            "train_clips": source.size,
            "clip_shape": list(arrays["frames"].shape[1:]),
            "load_or_prepare_s": round(prepare_s, 1),
            "pipeline_clips_per_s": round(pipe["clips_per_s"], 1),
            "model_clips_per_s": round(model["clips_per_s"], 2),
            "model_step_s_median": round(model["step_s_median"], 3),
            "model_step_s_all": [round(s, 3) for s in model["step_s_all"]],
            "headroom": round(pipe["clips_per_s"] / model["clips_per_s"], 1),
        }
        print(json.dumps({name: rows[name]}), flush=True)
        del source, arrays

    import tensorflow as tf

    result = {
        "what": f"training pipeline clips/s from the prepared cache vs paper-model train-step clips/s (batch {args.batch_size})",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
            "tensorflow": tf.__version__,
        },
        "batch_size": args.batch_size,
        "datasets": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    print(f"{'dataset':10s} {'pipeline clips/s':>17s} {'model clips/s':>14s} {'headroom':>9s}")
    for name, row in rows.items():
        print(f"{name:10s} {row['pipeline_clips_per_s']:17.0f} {row['model_clips_per_s']:14.2f} {row['headroom']:8.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
