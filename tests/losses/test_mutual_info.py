"""The minibatch-weighted MI estimator: ~0 for independent latents, clearly positive for dependent ones."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from s3vae_tf.losses.mutual_info import gaussian_log_density, log_importance_weights, mutual_information

M, T, F, Z = 256, 3, 2, 2


def _sample(mean, logvar, rng):
    return (mean + np.exp(0.5 * logvar) * rng.normal(size=mean.shape)).astype(np.float32)


def test_log_density_uses_log_variance():
    x, mean, logvar = 1.3, 0.2, math.log(4.0)
    expected = -0.5 * math.log(2 * math.pi * 4.0) - (x - mean) ** 2 / (2 * 4.0)
    assert abs(float(gaussian_log_density(tf.constant(x), tf.constant(mean), tf.constant(logvar))) - expected) < 1e-6


def test_importance_weights_are_a_distribution():
    for n in (8, 1000):
        w = np.exp(log_importance_weights(8, n).numpy())
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
        assert abs(w[0, 0] - 1.0 / n) < 1e-7
    np.testing.assert_allclose(np.exp(log_importance_weights(8, 8).numpy()), 1.0 / 8, atol=1e-7)


def test_independent_latents_give_about_zero():
    """z_f depends on the clip, z_t does not: I(z_f; z_t) = 0."""
    rng = np.random.default_rng(0)
    f_mean = rng.normal(size=(M, F)).astype(np.float32)
    f_logvar = np.full((M, F), math.log(0.05), np.float32)
    z_mean = np.zeros((M, T, Z), np.float32)
    z_logvar = np.zeros((M, T, Z), np.float32)
    mi = mutual_information(_sample(f_mean, f_logvar, rng), f_mean, f_logvar, _sample(z_mean, z_logvar, rng), z_mean, z_logvar).numpy()
    assert mi.shape == (T,)
    assert np.all(np.abs(mi) < 0.05), mi


def test_dependent_latents_give_clearly_positive():
    """z_t is a noisy copy of z_f's clip-dependent mean: strong dependence."""
    rng = np.random.default_rng(1)
    f_mean = rng.normal(size=(M, F)).astype(np.float32)
    f_logvar = np.full((M, F), math.log(0.05), np.float32)
    z_mean = np.repeat(f_mean[:, None, :Z], T, axis=1)
    z_logvar = np.full((M, T, Z), math.log(0.05), np.float32)
    mi = mutual_information(_sample(f_mean, f_logvar, rng), f_mean, f_logvar, _sample(z_mean, z_logvar, rng), z_mean, z_logvar).numpy()
    assert np.all(mi > 1.0), mi
    # and it cannot exceed log M, the most a batch of M clips can show
    assert np.all(mi < math.log(M) + 0.1)
