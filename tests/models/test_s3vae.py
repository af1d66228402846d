"""The whole model: distributions, API, gradients, learning, config, and the one-pass triplet trick."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.losses.triplet import triplet_loss
from s3vae_tf.models.s3vae import S3VAE
from tests.conftest import SPRITE_LABELS, TINY_MODEL, moving_squares, random_batch

FRAMES = 4


def make_model(variant="full", **model):
    keras.utils.set_random_seed(0)
    m = S3VAE(model={**TINY_MODEL, "frames": FRAMES, **model}, variant=variant, labels=SPRITE_LABELS, dataset_size=100, seed=1)
    m.build()
    return m


def as_tensors(batch):
    return {k: tf.constant(v) for k, v in batch.items()}


def test_distribution_shapes_and_kls():
    model = make_model()
    frames = random_batch(3, FRAMES)["frames"]
    q_f, q_z = model.posterior_distributions(frames)
    assert q_f.batch_shape == (3,) and q_f.event_shape == (TINY_MODEL["f_dim"],)
    assert q_z.batch_shape == (3,) and q_z.event_shape == (FRAMES, TINY_MODEL["z_dim"])
    p_z = model.prior_distribution(q_z.sample(seed=1))
    assert p_z.batch_shape == (3,) and p_z.event_shape == q_z.event_shape
    likelihood = model.likelihood(q_f.mean(), q_z.mean())
    assert likelihood.batch_shape == (3,) and likelihood.event_shape == (FRAMES, 64, 64, 3)
    terms = model.compute_terms(as_tensors(random_batch(3, FRAMES)), training=True, step=tf.constant(0, tf.int64))
    assert np.all(terms["kl_f"].numpy() >= 0) and np.all(terms["kl_z"].numpy() >= 0)
    assert terms["recon"].shape == (3,)


def test_the_loss_reads_the_public_distributions(monkeypatch):
    """One path: with zero noise (z = the posterior means) and inference-mode BatchNorm, the ELBO's terms are those of
    posterior_distributions, likelihood and prior_distribution, and the static prior N(0, I)."""
    from s3vae_tf.losses.elbo import kl_divergence, reconstruction_loss
    from s3vae_tf.models.distributions import standard_normal_like

    monkeypatch.setattr(S3VAE, "_noise", lambda self, shape, stream, step: tf.zeros(shape))
    model = make_model("baseline")
    batch = as_tensors(random_batch(3, FRAMES, seed=5))
    terms = model.compute_terms(batch, training=False, step=tf.constant(0, tf.int64))
    q_f, q_z = model.posterior_distributions(batch["frames"])
    expected = {
        "recon": reconstruction_loss(model.likelihood(q_f.mean(), q_z.mean()), batch["frames"]),
        "kl_f": kl_divergence(q_f, standard_normal_like(q_f.mean(), 1)),
        "kl_z": kl_divergence(q_z, model.prior_distribution(q_z.mean())),
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(terms[name], value, rtol=1e-5, err_msg=name)
    assert float(tf.reduce_min(terms["kl_z"])) > 0


def test_labels_are_typed_and_round_trip_through_the_config():
    from s3vae_tf.models.labels import ModelLabels

    labels = ModelLabels.from_value(SPRITE_LABELS)
    assert labels.static[0] == ("skin", 6) and labels.uses_flow and labels.dfp_term_names() == ["dfp_moving", "dfp_direction"]
    assert labels.dfp_outputs() == [["moving", 9], ["direction", 72]]
    model = make_model()
    assert ModelLabels.from_value(model.get_config()["labels"]) == model.labels == labels
    faces = ModelLabels(dfp_signal="landmarks")
    assert faces.dfp_outputs() == [["landmarks", 3]] and faces.dfp_term_names() == ["dfp_landmarks"]
    with pytest.raises(ValueError, match="DFP signal"):
        ModelLabels(dfp_signal="optical")


def test_api_shapes_and_semantics():
    model = make_model()
    a = random_batch(2, FRAMES, seed=1)["frames"]
    b = random_batch(2, FRAMES, seed=2)["frames"]
    enc = model.encode(a)
    assert enc["f_mean"].shape == (2, TINY_MODEL["f_dim"]) and enc["z_logvar"].shape == (2, FRAMES, TINY_MODEL["z_dim"])
    recon = model.decode(enc["f_mean"], enc["z_mean"]).numpy()
    assert recon.shape == (2, FRAMES, 64, 64, 3) and 0.0 <= recon.min() and recon.max() <= 1.0
    a_b, b_a = model.swap(a, b)
    np.testing.assert_allclose(a_b, model.decode(model.encode(b)["f_mean"], enc["z_mean"]), atol=1e-5)
    self_swap, _ = model.swap(a, a)
    np.testing.assert_allclose(self_swap, recon, atol=1e-5)  # swapping with oneself reconstructs
    g1, g2 = model.generate(3, seed=7).numpy(), model.generate(3, seed=7).numpy()
    np.testing.assert_array_equal(g1, g2)
    assert not np.allclose(g1, model.generate(3, seed=8).numpy())
    fixed_f = tf.repeat(enc["f_mean"][:1], 3, axis=0)
    varied_motion = model.generate(3, seed=7, z_f=fixed_f).numpy()
    assert varied_motion.shape == (3, FRAMES, 64, 64, 3)


@pytest.mark.parametrize("variant", ["full", "baseline", "baseline-sv"])
def test_gradients_reach_every_trainable_variable(variant):
    model = make_model(variant)
    batch = as_tensors(random_batch(4, FRAMES))
    with tf.GradientTape() as tape:
        terms = model.compute_terms(batch, training=True, step=tf.constant(0, tf.int64))
        loss = model.total_loss(terms)
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None or not np.any(g.numpy())]
    assert not missing, f"no gradient for {missing}"
    assert set(terms) == set(model.term_names())


def test_a_few_steps_lower_the_loss():
    model = make_model("full")
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    batch = moving_squares(8, FRAMES)
    step = tf.constant(0, tf.int64)
    initial = float(model.total_loss(model.compute_terms(as_tensors(batch), True, step)))
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=1, steps_per_epoch=30, verbose=0, shuffle=False)
    final = float(model.total_loss(model.compute_terms(as_tensors(batch), True, step)))
    assert final < 0.5 * initial, (initial, final)


def test_config_round_trip():
    model = make_model("baseline-sv", posterior="causal", likelihood="bernoulli")
    clone = S3VAE.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    frames = random_batch(2, FRAMES)["frames"]
    np.testing.assert_allclose(clone(frames).numpy(), model(frames).numpy(), atol=1e-6)
    assert clone.term_names() == model.term_names()


def test_one_encoder_pass_equals_naive_three_passes():
    """The positive is the anchor's features permuted, the negative the batch rolled: same loss and
    gradients as pushing anchor, positive and negative clips through the conv encoder separately."""
    model = make_model("full")
    model.loss_config.triplet_margin = 50.0  # every triplet active, so the gradients are not trivially zero
    batch = as_tensors(random_batch(6, FRAMES, seed=3))
    step = tf.constant(0, tf.int64)
    variables = model.trainable_variables

    with tf.GradientTape() as tape:
        fast = model.compute_terms(batch, training=True, step=step)
        fast_loss = model.total_loss(fast)
    fast_grads = tape.gradient(fast_loss, variables)

    with tf.GradientTape() as tape:
        terms = model.compute_terms(batch, training=True, step=step)

        def static_mean(frames):
            return model.posterior.static(model.posterior.summarize(model.frame_features(frames, training=True)))[0]

        positive_clips = tf.gather(batch["frames"], batch["positive_order"], batch_dims=1)
        negative_clips = tf.roll(batch["frames"], 1, axis=0)
        terms["scc"] = triplet_loss(
            static_mean(batch["frames"]), static_mean(positive_clips), static_mean(negative_clips), 50.0
        )
        naive_loss = model.total_loss(terms)
    naive_grads = tape.gradient(naive_loss, variables)

    np.testing.assert_allclose(fast["scc"].numpy(), terms["scc"].numpy(), rtol=1e-5)
    assert abs(float(fast_loss) - float(naive_loss)) <= 1e-5 * abs(float(naive_loss))
    flat_fast = np.concatenate([g.numpy().ravel() for g in fast_grads])
    flat_naive = np.concatenate([g.numpy().ravel() for g in naive_grads])
    assert np.linalg.norm(flat_fast - flat_naive) <= 1e-5 * np.linalg.norm(flat_naive)


def test_generation_can_decode_the_priors_means_along_its_sampled_path():
    model = make_model()
    f_noise = tf.random.stateless_normal((2, TINY_MODEL["f_dim"]), seed=[1, 2])
    z_noise = tf.random.stateless_normal((2, FRAMES, TINY_MODEL["z_dim"]), seed=[3, 4])
    sampled, means, _ = model.prior.sample(z_noise)
    np.testing.assert_allclose(model.generate_from_noise(f_noise, z_noise, prior_means=True), model.decode(f_noise, means), atol=1e-6)
    np.testing.assert_allclose(model.generate_from_noise(f_noise, z_noise), model.decode(f_noise, sampled), atol=1e-6)
    assert not np.allclose(sampled, means)
