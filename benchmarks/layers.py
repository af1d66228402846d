"""Micro-benchmarks behind two design choices of the conv nets, on this CPU (forward + backward, 256 frames).

* BatchNorm: TensorFlow's fused kernel (what ``SyncBatchNormalization`` uses when training on one
  replica) against Keras 3's composite BatchNormalization, on the encoder's largest feature map.
* Data layout: the DCGAN-64 encoder stack in NHWC (channels_last, the default) against NCHW.

Each variant is timed alternately with its rival (A, B, A, B, ...) so that a busy machine slows both
alike; the JSON keeps every timing, the minimum and the median.

    python benchmarks/layers.py
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from s3vae_tf.models.batch_norm import SyncBatchNormalization  # noqa: E402

FRAMES = 256  # a batch of 32 clips of 8 frames
OUT = Path(__file__).resolve().parent / "results" / "layers.json"


def train_step(layer: keras.layers.Layer, x: tf.Tensor):
    """A compiled forward + backward pass through ``layer`` (gradients for the input and the weights)."""

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, *layer.trainable_variables])

    step()
    return step


def alternate(a, b, rounds: int = 7) -> dict:
    times = {"a": [], "b": []}
    for _ in range(rounds):
        for name, fn in (("a", a), ("b", b)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {
        name: {"min_s": min(t), "median_s": statistics.median(t), "all_s": t} for name, t in times.items()
    }


def encoder(data_format: str) -> keras.Sequential:
    axis = -1 if data_format == "channels_last" else 1
    stack = []
    for mult in (1, 2, 4, 8):
        stack += [
            keras.layers.Conv2D(64 * mult, 4, 2, "same", use_bias=False, data_format=data_format),
            keras.layers.BatchNormalization(axis=axis),
            keras.layers.LeakyReLU(0.2),
        ]
    return keras.Sequential(stack)


def main() -> None:
    rng = np.random.default_rng(0)
    results = {}

    x = tf.constant(rng.normal(size=(FRAMES, 32, 32, 64)).astype("float32"))
    fused, composite = SyncBatchNormalization(synchronized=False), keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for layer in (fused, composite):
        layer.build(x.shape)
    timing = alternate(train_step(fused, x), train_step(composite, x))
    results["batchnorm_32x32x64"] = {"fused (SyncBatchNormalization)": timing["a"], "keras composite": timing["b"]}

    nhwc, nchw = encoder("channels_last"), encoder("channels_first")
    x_nhwc = tf.constant(rng.random((FRAMES, 64, 64, 3)).astype("float32"))
    x_nchw = tf.transpose(x_nhwc, [0, 3, 1, 2])
    nhwc.build(x_nhwc.shape)
    nchw.build(x_nchw.shape)
    timing = alternate(train_step(nhwc, x_nhwc), train_step(nchw, x_nchw))
    results["encoder_layout"] = {"NHWC (channels_last)": timing["a"], "NCHW (channels_first)": timing["b"]}

    for name, variants in results.items():
        for variant, t in variants.items():
            print(f"{name:<22} {variant:<32} min {t['min_s']:.3f} s  median {t['median_s']:.3f} s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": datetime.date.today().isoformat(), "frames": FRAMES, "tensorflow": tf.__version__, "results": results}
    OUT.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
