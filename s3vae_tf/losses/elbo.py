"""The ELBO's terms: reconstruction, KL(q(z_f) || p(z_f)) and sum_t KL(q(z_t) || p(z_t | z_<t))."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def reconstruction_loss(likelihood: tfd.Distribution, frames: tf.Tensor) -> tf.Tensor:
    """-log p(x | z) per clip, without the constant of a Gaussian likelihood: (B, T, H, W, C) -> (B,).

    ``likelihood`` is the model's p(x_1:T | z) (:func:`s3vae_tf.models.distributions.frame_likelihood`). For the
    Gaussian (variance 1/2) that is the sum of squared errors between the frames and its mean (the original
    code's MSE summed over pixels), computed from the distribution's own parameters so that no large constant
    is added and taken off again; for the Bernoulli, -log p itself (summed binary cross-entropy).
    """
    base = likelihood.distribution
    if isinstance(base, tfd.Normal):
        axes = list(range(1, len(frames.shape)))
        return tf.reduce_sum(0.5 * tf.square((frames - base.loc) / base.scale), axis=axes)
    return -likelihood.log_prob(frames)


def kl_divergence(q: tfd.Distribution, p: tfd.Distribution) -> tf.Tensor:
    """Analytic KL(q || p) per clip; both are diagonal Gaussians whose event covers the latent (and time)."""
    return tfd.kl_divergence(q, p)
