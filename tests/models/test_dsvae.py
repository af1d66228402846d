"""DSVAE (--variant dsvae): its two posteriors' dependencies, the ELBO only, the S3VAE API, learning on real Sprites clips."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.models.posterior import DSVAEPosterior
from s3vae_tf.models.s3vae import S3VAE
from tests.conftest import SPRITE_LABELS, TINY_MODEL, random_batch

FRAMES = 4
POSTERIORS = ("full", "factorised")


def make_model(posterior: str, **model) -> S3VAE:
    keras.utils.set_random_seed(0)
    m = S3VAE(model={**TINY_MODEL, "frames": FRAMES, "dsvae_posterior": posterior, **model}, variant="dsvae",
              labels=SPRITE_LABELS, seed=1)
    m.build()
    return m


@pytest.fixture(scope="module")
def real_clips(sprite_data_dir) -> np.ndarray:
    """Eight real Sprites training clips of different characters, cut to FRAMES frames, float32 in [0, 1)."""
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry

    train = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))["train"]
    index = np.linspace(0, len(train["frames"]) - 1, 8).round().astype(int)
    return train["frames"][index, :FRAMES].astype(np.float32) / 256.0


@pytest.mark.parametrize("posterior", POSTERIORS)
def test_shapes_distributions_and_the_elbo_only(posterior):
    model = make_model(posterior)
    assert isinstance(model.posterior, DSVAEPosterior) and model.posterior.conditions_on_static == (posterior == "full")
    assert model.term_names() == ("recon", "kl_f", "kl_z") and model.monitor_names() == ()
    assert model.dfp_head is None and model.static_head is None
    frames = random_batch(3, FRAMES)["frames"]
    enc = model.encode(frames)
    assert enc["f_mean"].shape == (3, TINY_MODEL["f_dim"]) and enc["z_logvar"].shape == (3, FRAMES, TINY_MODEL["z_dim"])
    q_f, q_z = model.posterior_distributions(frames)
    assert q_f.event_shape == (TINY_MODEL["f_dim"],) and q_z.event_shape == (FRAMES, TINY_MODEL["z_dim"])
    terms = model.compute_terms({"frames": tf.constant(frames)}, training=True, step=tf.constant(0, tf.int64))
    assert set(terms) == {"recon", "kl_f", "kl_z"} and all(v.shape == (3,) for v in terms.values())
    assert all(float(tf.reduce_min(v)) >= 0 for v in terms.values())
    a_b, _ = model.swap(frames[:1], frames[1:2])
    assert a_b.shape == (1, FRAMES, 64, 64, 3)
    assert model.generate(2, seed=3).shape == (2, FRAMES, 64, 64, 3)


def _z_mean_when_frame_changes(model, frames: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    changed = frames.copy()
    changed[:, t] = np.random.default_rng(5).random(changed[:, t].shape)
    return model.encode(frames)["z_mean"].numpy(), model.encode(changed)["z_mean"].numpy()


def test_factorised_z_t_of_frame_t_reads_frame_t_only(real_clips):
    model = make_model("factorised")
    before, after = _z_mean_when_frame_changes(model, real_clips[:3], t=2)
    others = [0, 1, 3]
    assert np.abs(before[:, others] - after[:, others]).max() < 1e-6
    assert np.abs(before[:, 2] - after[:, 2]).max() > 1e-3
    # z_f still sees every frame
    changed = real_clips[:3].copy()
    changed[:, 2] = 0.5
    assert np.abs(model.encode(real_clips[:3])["f_mean"].numpy() - model.encode(changed)["f_mean"].numpy()).max() > 1e-4


def test_full_z_t_reads_the_whole_clip_and_z_f(real_clips):
    model = make_model("full")
    before, after = _z_mean_when_frame_changes(model, real_clips[:3], t=2)
    assert np.abs(before[:, 0] - after[:, 0]).max() > 1e-4  # frame 1's z_t sees frame 3 (the BiLSTM)
    features = model.frame_features(real_clips[:3])
    z_f = np.random.default_rng(1).standard_normal((3, TINY_MODEL["f_dim"])).astype(np.float32)
    given = model.posterior(features, z_f=z_f)["z_mean"].numpy()
    other = model.posterior(features, z_f=-z_f)["z_mean"].numpy()
    assert (np.abs(given - other).max(axis=(0, 2)) > 1e-4).all()  # every frame's z_t moves with z_f
    at_mean = model.posterior(features)["z_mean"].numpy()
    np.testing.assert_allclose(at_mean, model.encode(real_clips[:3])["z_mean"].numpy(), atol=1e-6)  # encode: z_f's mean
    factorised = make_model("factorised")
    f_features = factorised.frame_features(real_clips[:3])
    np.testing.assert_array_equal(factorised.posterior(f_features, z_f=z_f)["z_mean"], factorised.posterior(f_features, z_f=-z_f)["z_mean"])


def test_training_conditions_z_t_on_the_sample_of_z_f(monkeypatch, real_clips):
    """The loss reads q(z_t | x, z_f) at the reparameterised sample of z_f, not at its mean."""
    model = make_model("full")
    seen = []
    original = DSVAEPosterior.dynamic_given

    def spy(self, features, summary, z_f):
        seen.append(z_f)
        return original(self, features, summary, z_f)

    monkeypatch.setattr(DSVAEPosterior, "dynamic_given", spy)
    model.compute_terms({"frames": tf.constant(real_clips[:2])}, training=False, step=tf.constant(0, tf.int64))
    f_mean = model.encode(real_clips[:2])["f_mean"].numpy()
    assert len(seen) == 2 and np.abs(seen[0].numpy() - f_mean).max() > 1e-2  # seen[1]: encode, at the mean
    np.testing.assert_allclose(seen[1], f_mean, atol=1e-6)


@pytest.mark.parametrize("posterior", POSTERIORS)
def test_a_few_steps_lower_the_loss_on_real_clips(posterior, real_clips):
    model = make_model(posterior)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    batch = {"frames": real_clips}
    step = tf.constant(0, tf.int64)
    initial = float(model.total_loss(model.compute_terms({"frames": tf.constant(real_clips)}, True, step)))
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=1, steps_per_epoch=20, verbose=0, shuffle=False)
    final = float(model.total_loss(model.compute_terms({"frames": tf.constant(real_clips)}, True, step)))
    assert final < 0.7 * initial, (initial, final)


@pytest.mark.parametrize("posterior", POSTERIORS)
def test_config_round_trip(posterior):
    model = make_model(posterior)
    clone = S3VAE.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    frames = random_batch(2, FRAMES)["frames"]
    np.testing.assert_allclose(clone(frames).numpy(), model(frames).numpy(), atol=1e-6)
    assert clone.posterior.factorisation == posterior
