"""Mutual information sum_t I(z_f; z_t), estimated on a minibatch by minibatch-weighted sampling.

The aggregate posterior q(z) = (1/N) sum_n q(z | x_n) is approximated on a minibatch of M clips drawn
from N (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", eq. S6): the clip's own
posterior gets weight 1/N, every other clip of the batch (N - 1) / (N (M - 1)). With N = M this is the
plain minibatch average. The estimate of I(z_f; z_t) is then the batch mean of
log q(z_f, z_t) - log q(z_f) - log q(z_t), with q(z_f, z_t | x) = q(z_f | x) q(z_t | x).

Unlike the original code, the Gaussian log-density here takes the log-variance as a log-variance:
the original passed log-variance where its helper expected log-standard-deviation, which squares the
posterior widths the estimator sees.
"""

from __future__ import annotations

import math

import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(x: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Elementwise log N(x; mean, exp(logvar))."""
    return -0.5 * (LOG_2PI + logvar + tf.square(x - mean) * tf.exp(-logvar))


def log_importance_weights(batch_size: tf.Tensor, dataset_size: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """(M, M) log-weights of minibatch-weighted sampling: row i weighs the posteriors of clips j."""
    m = tf.cast(batch_size, dtype)
    n = tf.maximum(tf.cast(dataset_size, dtype), m)
    own = -tf.math.log(n)
    other = tf.math.log(n - 1.0) - tf.math.log(n) - tf.math.log(tf.maximum(m - 1.0, 1.0))
    eye = tf.eye(batch_size, dtype=dtype)
    return eye * own + (1.0 - eye) * other


def mutual_information(
    f: tf.Tensor,
    f_mean: tf.Tensor,
    f_logvar: tf.Tensor,
    z: tf.Tensor,
    z_mean: tf.Tensor,
    z_logvar: tf.Tensor,
    dataset_size: int | tf.Tensor = 0,
) -> tf.Tensor:
    """Estimates of I(z_f; z_t) for every t, shape (T,).

    f, f_mean, f_logvar: (M, F) samples and posterior parameters of z_f; z, z_mean, z_logvar: (M, T, Z).
    ``dataset_size`` N (0 = treat the batch as the whole data set).
    """
    m = tf.shape(f)[0]
    weights = log_importance_weights(m, dataset_size if dataset_size else m, f.dtype)  # (M, M)
    # [i, j] = log q(sample of clip i | clip j)
    log_qf = tf.reduce_sum(gaussian_log_density(f[:, None], f_mean[None], f_logvar[None]), axis=-1)  # (M, M)
    log_qz = tf.reduce_sum(gaussian_log_density(z[:, None], z_mean[None], z_logvar[None]), axis=-1)  # (M, M, T)
    log_f = tf.reduce_logsumexp(log_qf + weights, axis=1)  # (M,)
    log_z = tf.reduce_logsumexp(log_qz + weights[..., None], axis=1)  # (M, T)
    log_fz = tf.reduce_logsumexp(log_qf[..., None] + log_qz + weights[..., None], axis=1)  # (M, T)
    return tf.reduce_mean(log_fz - log_f[:, None] - log_z, axis=0)
