"""TFP distributions at the model's boundaries: diagonal Gaussians over latents, the frame likelihood."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def diagonal_gaussian(mean: tf.Tensor, logvar: tf.Tensor, event_ndims: int) -> tfd.Distribution:
    """N(mean, exp(logvar)) with the last ``event_ndims`` axes as one event (KLs sum over them)."""
    return tfd.Independent(tfd.Normal(loc=mean, scale=tf.exp(0.5 * logvar)), reinterpreted_batch_ndims=event_ndims)


def standard_normal_like(mean: tf.Tensor, event_ndims: int) -> tfd.Distribution:
    """The static prior p(z_f) = N(0, I), shaped like ``mean``."""
    return tfd.Independent(tfd.Normal(tf.zeros_like(mean), tf.ones_like(mean)), reinterpreted_batch_ndims=event_ndims)


def frame_likelihood(logits: tf.Tensor, likelihood: str) -> tfd.Distribution:
    """p(x_1:T | z) over a clip (B, T, H, W, C): one event per clip.

    ``gaussian`` has mean sigmoid(logits) and variance 1/2, so -log p equals the sum of squared errors
    up to a constant; ``bernoulli`` has these logits.
    """
    if likelihood == "gaussian":
        base = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.sqrt(tf.constant(0.5, logits.dtype)))
    elif likelihood == "bernoulli":
        base = tfd.Bernoulli(logits=logits, dtype=logits.dtype)
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    return tfd.Independent(base, reinterpreted_batch_ndims=4)
