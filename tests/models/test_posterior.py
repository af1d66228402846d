from __future__ import annotations

import numpy as np
import pytest

from s3vae_tf.models.posterior import Posterior


def _features(seed=0):
    return np.random.default_rng(seed).normal(size=(3, 6, 10)).astype("float32")


def test_shapes():
    posterior = Posterior(hidden_dim=8, f_dim=5, z_dim=3)
    out = posterior(_features())
    assert out["f_mean"].shape == (3, 5) and out["f_logvar"].shape == (3, 5)
    assert out["z_mean"].shape == (3, 6, 3) and out["z_logvar"].shape == (3, 6, 3)


@pytest.mark.parametrize("causal", [True, False])
def test_causality(causal):
    """Changing frame t+1 must leave z_<=t unchanged under the causal posterior, and only there."""
    posterior = Posterior(hidden_dim=8, f_dim=5, z_dim=3, causal=causal)
    x = _features()
    changed = x.copy()
    changed[:, 4] += 1.0
    before, after = posterior(x)["z_mean"].numpy(), posterior(changed)["z_mean"].numpy()
    past_moved = np.abs(before[:, :4] - after[:, :4]).max()
    if causal:
        assert past_moved < 1e-6
    else:
        assert past_moved > 1e-4
    assert np.abs(before[:, 4:] - after[:, 4:]).max() > 1e-4


def test_static_latent_sees_every_frame():
    posterior = Posterior(hidden_dim=8, f_dim=5, z_dim=3, causal=True)
    x = _features()
    for t in (0, 5):
        changed = x.copy()
        changed[:, t] += 1.0
        assert np.abs(posterior(x)["f_mean"].numpy() - posterior(changed)["f_mean"].numpy()).max() > 1e-4
