"""Pick a tf.distribute strategy: one device, MirroredStrategy on local GPUs, or multi-worker via TF_CONFIG."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from s3vae_tf.errors import UsageError


def cluster_size() -> int:
    """Number of tasks TF_CONFIG describes (1 without TF_CONFIG)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return 1
    try:
        cluster = json.loads(raw).get("cluster", {})
    except ValueError:
        raise UsageError("TF_CONFIG is not valid JSON") from None
    return sum(len(tasks) for tasks in cluster.values())


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto``: multi-worker when TF_CONFIG names several tasks, mirrored on several local GPUs, else default.

    ``mirrored`` uses every visible GPU (or the CPU); ``multiworker`` requires TF_CONFIG. Create the strategy
    before any other TensorFlow work: multi-worker collectives must be set up first.
    """
    if name == "auto":
        if cluster_size() > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise UsageError("--strategy multiworker needs TF_CONFIG (cluster and task) in the environment")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"unknown strategy {name!r}; choose auto, default, mirrored or multiworker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory (the chief, or worker 0 when there is no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return not has_chief and resolver.task_type == "worker" and resolver.task_id == 0
