"""Subprocess for test_distributed: training steps on 1 device vs MirroredStrategy over 2 logical CPUs.

Arguments: variant, floatx, frames.npy, [mixed-precision policy], [steps]. Prints a JSON object with the
relative difference of the updates. Logical devices must be configured
before TensorFlow starts, hence a separate process.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from s3vae_tf.models.s3vae import S3VAE  # noqa: E402
from tests.conftest import SPRITE_LABELS, TINY_MODEL  # noqa: E402


def main(variant: str, floatx: str, frames_path: str, policy: str = "", steps: str = "1") -> None:
    keras.config.set_floatx(floatx)
    if policy:
        keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    frames = np.load(frames_path)
    rng = np.random.default_rng(0)
    b, t = frames.shape[:2]
    batch = {
        "frames": frames.astype(floatx),
        "positive_order": np.stack([rng.permutation(t) for _ in range(b)]).astype(np.int32),
        "flow_moving": rng.integers(0, 2, (b, t - 1, 9)).astype(np.uint8),
        "flow_direction": rng.integers(0, 8, (b, t - 1, 9)).astype(np.uint8),
        "static_labels": rng.integers(0, 6, (b, 4)).astype(np.int32),
        "dynamic_labels": rng.integers(0, 9, (b, t, 1)).astype(np.int32),
        "partner_frames": frames[::-1].astype(floatx),  # baseline-sv's ground-truth positives (other real clips)
    }
    data = tf.data.Dataset.from_tensors(batch).repeat()
    initial = None

    def one_step(strategy):
        nonlocal initial
        with strategy.scope():
            model = S3VAE(model={**TINY_MODEL, "frames": t}, variant=variant, labels=SPRITE_LABELS, dataset_size=100, seed=3)
            model.build()
            if initial is None:
                initial = model.get_weights()
            model.set_weights(initial)
            # plain SGD: the update is the gradient itself (Adam's first step is sign-like and hides nothing)
            model.compile(optimizer=keras.optimizers.SGD(1e-3))
        before = [v.numpy().copy() for v in model.trainable_variables]
        history = model.fit(data, epochs=1, steps_per_epoch=int(steps), verbose=0, shuffle=False).history
        update = np.concatenate([(v.numpy() - w).ravel() for v, w in zip(model.trainable_variables, before)])
        scale = float(np.asarray(model.optimizer.dynamic_scale)) if hasattr(model.optimizer, "dynamic_scale") else 1.0
        return update, history["loss"][0], strategy.num_replicas_in_sync, scale

    single, loss_single, _, scale_single = one_step(tf.distribute.get_strategy())
    mirrored, loss_mirrored, replicas, scale_mirrored = one_step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print(
        json.dumps(
            {
                "replicas": replicas,
                "rel_diff": float(np.linalg.norm(single - mirrored) / np.linalg.norm(single)),
                "loss_single": float(loss_single),
                "loss_mirrored": float(loss_mirrored),
                "loss_scale": [scale_single, scale_mirrored],
                "finite": bool(np.isfinite(single).all() and np.isfinite(mirrored).all()),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
