"""The self-supervised terms do their job on real Sprites clips: SCC active, gradients reach the encoder."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.config import DataConfig, RunConfig, apply_preset
from s3vae_tf.data import registry
from s3vae_tf.data.pipeline import ClipSource
from s3vae_tf.losses.dynamic_factor import flow_grid_loss
from s3vae_tf.losses.triplet import triplet_hinge, triplet_loss
from s3vae_tf.models.heads import reverse_gradient
from s3vae_tf.models.initializers import original_init
from s3vae_tf.models.s3vae import S3VAE
from s3vae_tf.run_directory import build_model
from tests.conftest import SPRITE_LABELS, TINY_MODEL, random_batch


@pytest.fixture(scope="module")
def sprite_batch(sprite_data_dir):
    splits = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))
    source = ClipSource(splits["train"], 256.0)
    return source.batch(tf.range(16), tf.constant([0, 1], tf.int64))


def _cpu_model(**loss):
    config = apply_preset(RunConfig(), "cpu")
    for name, value in loss.items():
        setattr(config.loss, name, value)
    keras.utils.set_random_seed(0)
    return build_model(config, registry.get("sprite"), dataset_size=100)


def test_cpu_preset_triplets_are_active_on_real_clips_and_reach_the_encoder(sprite_batch):
    norms = _cpu_model().term_gradient_norms(sprite_batch, tf.constant(0, tf.int64))
    assert float(norms["scc_active"]) >= 0.2  # measured 0.25 and 0.375 on two batches of 16
    assert float(norms["scc"]) > 0.0
    for name in ("recon", "kl_f", "kl_z", "scc", "dfp_moving", "dfp_direction", "mi"):
        assert np.isfinite(float(norms[name])) and float(norms[name]) > 0.0, name
    # The cpu preset's DFP is a real share of the encoder's gradient (it is ~0.2% at the original weights).
    terms = ("recon", "kl_f", "kl_z", "scc", "dfp_moving", "dfp_direction", "mi")
    share = float(norms["dfp_direction"]) / sum(float(norms[t]) for t in terms)
    assert share > 0.05


def test_baseline_sv_triplet_takes_same_character_partners_and_reaches_the_encoder(sprite_data_dir):
    """baseline-sv's SCC from ground truth: the positive is another clip of the same character (another
    action/direction), so its gradient is what pushes the motion out of z_f."""
    splits = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))
    source = ClipSource(splits["train"], 256.0, partners=True)
    batch = source.batch(tf.range(16), tf.constant([0, 1], tf.int64))
    partner = source.partner_indices(tf.range(16), tf.constant([0, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(splits["train"]["static"][partner], splits["train"]["static"][:16])
    config = apply_preset(RunConfig(variant="baseline-sv"), "cpu")
    keras.utils.set_random_seed(0)
    model = build_model(config, registry.get("sprite"), dataset_size=100)
    assert "sv_scc" in model.term_names()
    norms = model.term_gradient_norms(batch, tf.constant(0, tf.int64))
    assert np.isfinite(float(norms["sv_scc"])) and float(norms["sv_scc"]) > 0.0
    with pytest.raises(ValueError, match="partner_frames"):
        without = {k: v for k, v in batch.items() if k != "partner_frames"}
        model.compute_terms(without, training=False, step=tf.constant(0, tf.int64))


def test_unnormalised_scc_is_switched_off_at_keras_initialisation(sprite_batch):
    """Why the cpu preset normalises: on raw z_f means every margin-1 hinge is zero from the first step."""
    raw = _cpu_model(triplet_normalize=False).term_gradient_norms(sprite_batch, tf.constant(0, tf.int64))
    normalised = _cpu_model().term_gradient_norms(sprite_batch, tf.constant(0, tf.int64))
    assert float(raw["scc_active"]) < float(normalised["scc_active"])
    assert float(raw["scc_active"]) == 0.0 and float(raw["scc"]) == 0.0


def test_normalised_triplet_is_scale_free():
    rng = np.random.default_rng(0)
    a, p, n = (rng.normal(size=(6, 5)).astype(np.float32) for _ in range(3))
    small = triplet_loss(a, p, n, 0.5, normalize=True).numpy()
    np.testing.assert_allclose(triplet_loss(100 * a, 100 * p, 100 * n, 0.5, normalize=True).numpy(), small, rtol=1e-5)
    assert not np.allclose(triplet_loss(100 * a, 100 * p, 100 * n, 0.5).numpy(), triplet_loss(a, p, n, 0.5).numpy())
    hinge = triplet_hinge(a, p, n, 0.5, normalize=True).numpy()
    assert np.all(hinge <= 2.5) and np.all(hinge >= -1.5)  # unit vectors: distances in [0, 2]


def test_dfp_mean_is_the_sum_over_pair_cells():
    batch = random_batch(3, 4)
    rng = np.random.default_rng(1)
    moving, direction = rng.normal(size=(3, 3, 9)).astype(np.float32), rng.normal(size=(3, 3, 9, 8)).astype(np.float32)
    summed = flow_grid_loss(moving, direction, batch["flow_moving"], batch["flow_direction"], "sum")
    mean = flow_grid_loss(moving, direction, batch["flow_moving"], batch["flow_direction"], "mean")
    for s, m in zip(summed, mean):
        np.testing.assert_allclose(m.numpy() * 27, s.numpy(), rtol=1e-5)


def test_reverse_gradient_is_identity_forward_and_negated_backward():
    x = tf.Variable([[1.0, -2.0]])
    with tf.GradientTape() as tape:
        y = reverse_gradient(x, 0.5)
        loss = tf.reduce_sum(3.0 * y)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[-1.5, -1.5]])


def test_static_adversary_is_a_term_whose_encoder_gradient_opposes_its_head():
    keras.utils.set_random_seed(0)
    model = S3VAE(model={**TINY_MODEL, "frames": 4}, loss={"static_adversary_weight": 1.0}, variant="full",
                  labels=SPRITE_LABELS, dataset_size=100, seed=1)
    model.build()
    assert "adv_static" in model.term_names()
    batch = {k: tf.constant(v) for k, v in random_batch(4, 4).items()}
    with tf.GradientTape() as tape:
        terms = model.compute_terms(batch, training=True, step=tf.constant(0, tf.int64))
        adv = tf.reduce_mean(terms["adv_static"])
    f_layer = model.posterior.f_mean.kernel
    head_bias = model.static_adversary.hidden.bias
    g_f, g_head = tape.gradient(adv, [f_layer, head_bias])
    assert float(tf.norm(g_f)) > 0 and float(tf.norm(g_head)) > 0
    # One small step along the returned gradients: the head's loss falls, the encoder's step raises it.
    before = float(adv)
    head_bias.assign_sub(1e-2 * g_head)
    after_head = float(tf.reduce_mean(model.compute_terms(batch, True, tf.constant(0, tf.int64))["adv_static"]))
    head_bias.assign_add(1e-2 * g_head)
    f_layer.assign_sub(1e-2 * g_f)
    after_encoder = float(tf.reduce_mean(model.compute_terms(batch, True, tf.constant(0, tf.int64))["adv_static"]))
    assert after_head < before < after_encoder


def test_original_init_draws_small_kernels_and_zero_biases_and_leaves_recurrent_layers():
    keras.utils.set_random_seed(0)
    model = S3VAE(model={**TINY_MODEL, "frames": 4}, variant="full", labels=SPRITE_LABELS, seed=1)
    model.build()
    lstm_before = [v.numpy().copy() for v in model.posterior.bilstm.trainable_variables]
    assert original_init(model, seed=0) > 0
    kernel = model.posterior.f_mean.kernel.numpy()
    assert abs(kernel.std() - 0.01) < 0.002 and np.all(model.posterior.f_mean.bias.numpy() == 0)
    for before, after in zip(lstm_before, model.posterior.bilstm.trainable_variables):
        np.testing.assert_array_equal(before, after.numpy())
