"""The global batch under tf.distribute: gathering a tensor over replicas, and noise drawn for the global batch.

Terms that couple the clips of a batch (SCC's negatives, the minibatch MI estimator) are computed on the global
batch, and the reparameterisation noise of a replica is its rows of noise drawn for the global batch, so N
replicas compute the same update as one device. On one device both are the identity / plain draws.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


def replica_context() -> tuple[int, Any]:
    """(number of replicas, replica id tensor or 0) of the current replica context."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return 1, 0
    return ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group


def gather_batch(x: tf.Tensor) -> tf.Tensor:
    """The global batch of ``x`` (all replicas, in replica order); identity on one device."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_gather(x, axis=0)


def global_batch_noise(local_shape: tuple, seed: int, stream: int, step: tf.Tensor) -> tf.Tensor:
    """Standard-normal noise for this replica's rows of the global batch, a function of (seed, stream, step):
    a resumed run draws what an uninterrupted one would, and every stream of a step has its own sequence."""
    replicas, replica_id = replica_context()
    batch = local_shape[0]
    key = tf.stack([tf.cast(seed * 16 + stream, tf.int64), tf.cast(step, tf.int64)])
    noise = tf.random.stateless_normal((batch * replicas, *local_shape[1:]), seed=key, dtype=keras.config.floatx(), alg="philox")
    return noise[replica_id * batch : (replica_id + 1) * batch] if replicas > 1 else noise
