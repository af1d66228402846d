from __future__ import annotations

import numpy as np

from s3vae_tf.models.prior import DynamicPrior


def test_teacher_forcing_is_causal_and_shaped():
    prior = DynamicPrior(z_dim=3, hidden_dim=8)
    z = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mean, logvar = prior(z)
    assert mean.shape == (2, 5, 3) and logvar.shape == (2, 5, 3)
    changed = z.copy()
    changed[:, 2] += 1.0
    mean2, _ = prior(changed)
    np.testing.assert_allclose(mean[:, :3], mean2[:, :3], atol=1e-6)  # p(z_t | z_<t) ignores z_>=t
    assert np.abs(np.asarray(mean[:, 3:]) - np.asarray(mean2[:, 3:])).max() > 1e-5


def test_sampling_matches_teacher_forcing():
    """The step-by-step sampler and the sequence LSTM share weights: the same z gives the same prior."""
    prior = DynamicPrior(z_dim=3, hidden_dim=8, num_layers=2)
    prior.build((None, 5, 3))
    noise = np.random.default_rng(1).normal(size=(4, 5, 3)).astype("float32")
    z, mean, logvar = prior.sample(noise)
    assert z.shape == (4, 5, 3)
    tf_mean, tf_logvar = prior(z)
    np.testing.assert_allclose(mean, tf_mean, atol=1e-5)
    np.testing.assert_allclose(logvar, tf_logvar, atol=1e-5)
    np.testing.assert_allclose(z, mean + np.exp(0.5 * logvar) * noise, atol=1e-5)
