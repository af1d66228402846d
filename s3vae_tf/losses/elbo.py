"""The ELBO's terms: reconstruction, KL(q(z_f) || p(z_f)) and sum_t KL(q(z_t) || p(z_t | z_<t))."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def reconstruction_loss(frames: tf.Tensor, logits: tf.Tensor, likelihood: str) -> tf.Tensor:
    """-log p(x | z) per clip, without constants: (B, T, H, W, C) -> (B,).

    ``gaussian``: sum of squared errors between the frames and sigmoid(logits) (the original code's
    MSE summed over pixels; a Gaussian with variance 1/2). ``bernoulli``: summed binary cross-entropy.
    """
    axes = list(range(1, len(frames.shape)))
    if likelihood == "gaussian":
        return tf.reduce_sum(tf.square(frames - tf.sigmoid(logits)), axis=axes)
    if likelihood == "bernoulli":
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=frames, logits=logits), axis=axes)
    raise ValueError(f"unknown likelihood {likelihood!r}")


def kl_divergence(q: tfd.Distribution, p: tfd.Distribution) -> tf.Tensor:
    """Analytic KL(q || p) per clip; both are diagonal Gaussians whose event covers the latent (and time)."""
    return tfd.kl_divergence(q, p)
