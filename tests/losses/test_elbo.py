from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from s3vae_tf.losses.elbo import kl_divergence, reconstruction_loss
from s3vae_tf.models.distributions import diagonal_gaussian, frame_likelihood, standard_normal_like


def test_gaussian_reconstruction_is_the_likelihood_without_constants():
    rng = np.random.default_rng(0)
    frames = rng.random((2, 3, 64, 64, 1)).astype(np.float32)
    logits = rng.normal(size=frames.shape).astype(np.float32)
    sse = reconstruction_loss(frame_likelihood(tf.constant(logits), "gaussian"), frames).numpy()
    np.testing.assert_allclose(sse, ((frames - 1 / (1 + np.exp(-logits))) ** 2).sum(axis=(1, 2, 3, 4)), rtol=1e-5)
    nll = -frame_likelihood(tf.constant(logits), "gaussian").log_prob(frames).numpy()
    constant = frames[0].size * 0.5 * math.log(math.pi)  # -log N(x; mu, 1/2) = (x - mu)^2 + log(pi) / 2
    np.testing.assert_allclose(nll, sse + constant, rtol=1e-5)


def test_bernoulli_reconstruction_matches_the_likelihood():
    rng = np.random.default_rng(1)
    frames = (rng.random((2, 3, 64, 64, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=frames.shape).astype(np.float32)
    bce = reconstruction_loss(frame_likelihood(tf.constant(logits), "bernoulli"), frames).numpy()
    np.testing.assert_allclose(bce, -frame_likelihood(tf.constant(logits), "bernoulli").log_prob(frames).numpy(), rtol=1e-5)


def test_kl_is_non_negative_and_zero_at_the_prior():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(5, 4)).astype(np.float32)
    logvar = rng.normal(size=(5, 4)).astype(np.float32)
    kl = kl_divergence(diagonal_gaussian(mean, logvar, 1), standard_normal_like(mean, 1)).numpy()
    assert kl.shape == (5,) and np.all(kl > 0)
    zero = np.zeros_like(mean)
    np.testing.assert_allclose(kl_divergence(diagonal_gaussian(zero, zero, 1), standard_normal_like(zero, 1)).numpy(), 0, atol=1e-6)
    # closed form for one dimension
    expected = 0.5 * (np.exp(logvar) + mean**2 - 1 - logvar).sum(axis=1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
