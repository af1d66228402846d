"""MoCoGAN (--variant mocogan): shapes, the code path (content and category fixed per clip, causal motion), finite
losses, learning on real Sprites clips, checkpoint save / restore and resume through the training loop."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.models.decoder import FrameDecoder
from s3vae_tf.models.mocogan import MoCoGAN
from tests.conftest import SPRITE_LABELS, TINY_MODEL

FRAMES = 4
CATEGORIES = SPRITE_LABELS["dynamic"][0][1]


def make_model(seed: int = 1) -> MoCoGAN:
    keras.utils.set_random_seed(0)
    m = MoCoGAN(model={**TINY_MODEL, "frames": FRAMES}, labels=SPRITE_LABELS, seed=seed)
    m.build()
    m.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    m.build_optimizers()
    return m


@pytest.fixture(scope="module")
def real_batch(sprite_data_dir) -> dict[str, np.ndarray]:
    """Eight real Sprites training clips (FRAMES frames) of different characters and actions, with their labels."""
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry

    train = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))["train"]
    index = np.linspace(0, len(train["frames"]) - 1, 8).round().astype(int)
    return {"frames": train["frames"][index, :FRAMES].astype(np.float32) / 256.0,
            "dynamic_labels": train["dynamic"][index, :FRAMES].astype(np.int32)}


def _codes(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    content = rng.standard_normal((count, TINY_MODEL["f_dim"])).astype(np.float32)
    motion = rng.standard_normal((count, FRAMES, TINY_MODEL["z_dim"])).astype(np.float32)
    return content, motion, np.arange(count, dtype=np.int32) % CATEGORIES


def test_shapes():
    model = make_model()
    content, motion, category = _codes(3)
    clips = model.generate_from_noise(content, motion, category).numpy()
    assert clips.shape == (3, FRAMES, 64, 64, 3) and 0.0 <= clips.min() and clips.max() <= 1.0
    assert model.image_discriminator(tf.constant(clips[:, 0])).shape == (3,)
    real, category_logits = model.video_discriminator(tf.constant(clips))
    assert real.shape == (3,) and category_logits.shape == (3, CATEGORIES)
    np.testing.assert_array_equal(model.generate(3, seed=4), model.generate(3, seed=4))
    assert not np.allclose(model.generate(3, seed=4), model.generate(3, seed=5))
    assert model.term_names() == ("d_image", "d_video", "d_category", "g_image", "g_video", "g_category")
    assert not model.has_encoder and model.category_head == "action" and model.categories == CATEGORIES


def test_content_and_category_are_fixed_per_clip_and_motion_is_causal(monkeypatch):
    """The generator reads [z_M^(t), one_hot(z_A), z_C] per frame: the last two are the same on every frame of a
    clip; the motion code of frame t depends on the noise up to t only."""
    model = make_model()
    content, motion, category = _codes(2)
    seen = []
    original = FrameDecoder.call

    def spy(self, latents, training=False):
        seen.append(np.asarray(latents))
        return original(self, latents, training=training)

    monkeypatch.setattr(FrameDecoder, "call", spy)
    model.generate_from_noise(content, motion, category)
    latents = seen[-1].reshape(2, FRAMES, -1)
    z_dim = TINY_MODEL["z_dim"]
    static = latents[:, :, z_dim:]
    np.testing.assert_array_equal(static, np.repeat(static[:, :1], FRAMES, axis=1))
    np.testing.assert_allclose(static[:, 0, CATEGORIES:], content, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(static[:, 0, :CATEGORIES], axis=-1), category)
    assert np.abs(latents[:, 1:, :z_dim] - latents[:, :1, :z_dim]).max() > 1e-3  # the motion code moves
    monkeypatch.setattr(FrameDecoder, "call", original)

    changed = motion.copy()
    changed[:, 2] += 1.0
    before, after = model.motion_codes(motion).numpy(), model.motion_codes(changed).numpy()
    assert np.abs(before[:, :2] - after[:, :2]).max() < 1e-6 and np.abs(before[:, 2:] - after[:, 2:]).max() > 1e-4
    new_content = model.generate_from_noise(-content, motion, category).numpy()
    old = model.generate_from_noise(content, motion, category).numpy()
    assert all(np.abs(new_content[:, t] - old[:, t]).max() > 1e-4 for t in range(FRAMES))


def test_losses_are_finite_and_start_near_chance(real_batch):
    model = make_model()
    noise = model._step_noise(8, tf.constant(0, tf.int64))
    fake = model._fake(8, noise, training=False)
    labels = model.real_categories(real_batch)
    np.testing.assert_array_equal(labels, real_batch["dynamic_labels"][:, 0, 0])
    terms = {**model.discriminator_terms(tf.constant(real_batch["frames"]), labels, fake, noise, training=True),
             **model.generator_terms(fake, noise, training=True)}
    for name in model.term_names():
        assert terms[name].shape == (8,) and np.all(np.isfinite(terms[name])), name
    assert abs(float(tf.reduce_mean(terms["d_category"])) - np.log(CATEGORIES)) < 1.0  # an untrained head: ~ln K
    assert np.isfinite(float(model.d_loss(terms))) and np.isfinite(float(model.g_loss(terms)))


def test_train_steps_on_real_clips_teach_the_discriminator(real_batch):
    """On a fixed real batch and fixed noise, D's loss and its category cross-entropy fall, and each step
    moves both nets (each optimizer counts its steps)."""
    model = make_model()
    batch = {k: tf.constant(v) for k, v in real_batch.items()}
    noise = model._step_noise(8, tf.constant(0, tf.int64))

    def d_terms():
        return model.discriminator_terms(batch["frames"], model.real_categories(batch), model._fake(8, noise, False), noise, training=True)

    before = {k: float(tf.reduce_mean(v)) for k, v in d_terms().items()}
    g_before = [v.numpy().copy() for v in model.generator_variables]
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=1, steps_per_epoch=20, verbose=0, shuffle=False)
    after = {k: float(tf.reduce_mean(v)) for k, v in d_terms().items()}
    assert after["d_category"] < 0.5 * before["d_category"], (before, after)
    assert after["d_image"] + after["d_video"] < before["d_image"] + before["d_video"], (before, after)
    assert int(model.optimizer.iterations.numpy()) == int(model.d_optimizer.iterations.numpy()) == 20
    assert any(not np.allclose(a, v.numpy()) for a, v in zip(g_before, model.generator_variables))


def test_checkpoint_restores_both_nets_and_both_optimizers(real_batch, tmp_path):
    from s3vae_tf.run_directory import RunCheckpoint

    model = make_model()
    model.fit(tf.data.Dataset.from_tensors(real_batch).repeat(), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    RunCheckpoint(model, tmp_path).save(1)
    fresh = make_model(seed=1)
    assert RunCheckpoint(fresh, tmp_path).restore() == 1
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip([*model.optimizer.variables, *model.d_optimizer.variables], [*fresh.optimizer.variables, *fresh.d_optimizer.variables]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(fresh.d_optimizer.iterations.numpy()) == 2


def test_a_run_resumes_where_it_stopped(sprite_data_dir, tmp_path):
    """Through the training loop: 1 + 1 epochs end with the weights and optimizer slots of 2 straight epochs."""
    from s3vae_tf.config import DataConfig, ModelConfig, RunConfig, TrainConfig, apply_preset
    from s3vae_tf.train import train

    config = apply_preset(RunConfig(variant="mocogan"), "paper")
    assert (config.train.learning_rate, config.train.adam_beta_1, config.train.adam_beta_2) == (2e-4, 0.5, 0.999)
    config.model = ModelConfig(**TINY_MODEL)
    config.data = DataConfig(data_dir=str(sprite_data_dir))
    config.train = TrainConfig(epochs=2, batch_size=8, steps_per_epoch=2, validation_steps=1, image_every=0, verbose=0, seed=3,
                               learning_rate=2e-4, adam_beta_1=0.5, probe_every=0)
    straight = train(config, tmp_path / "straight").model
    config.train.epochs = 1
    train(config, tmp_path / "resumed")
    config.train.epochs = 2
    resumed = train(config, tmp_path / "resumed").model
    assert int(resumed.d_optimizer.iterations.numpy()) == int(straight.d_optimizer.iterations.numpy()) == 4
    for a, b in zip([*straight.variables, *straight.optimizer.variables, *straight.d_optimizer.variables],
                    [*resumed.variables, *resumed.optimizer.variables, *resumed.d_optimizer.variables]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    header = (tmp_path / "resumed" / "history.csv").read_text().splitlines()[0].split(",")
    assert {"d_loss", "g_loss", "d_image", "d_video", "d_category", "g_category", "val_d_loss"} <= set(header)
