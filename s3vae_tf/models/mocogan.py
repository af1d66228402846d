"""MoCoGAN (Tulyakov et al., CVPR 2018) with categorical action conditioning: Table 1's GAN comparison.

A clip is generated from three codes: the content z_C ~ N(0, I) (``f_dim``), drawn once and kept for every frame;
a one-hot action category z_A (the dataset's first dynamic label: Sprites' action); and the motion z_M^(t)
(``z_dim``), a GRU run over per-step noise eps_t ~ N(0, I). Frame t is G([z_M^(t), z_A, z_C]) with the DCGAN-64
decoder S3VAE uses. Two discriminators judge it: D_I one frame per clip (a DCGAN-64 conv net), D_V the whole
clip (3D convolutions) with an auxiliary head predicting the category, which D learns on real clips' labels and G
is trained to make its clips of the drawn category read as (MoCoGAN's categorical variant). Losses are the
non-saturating GAN losses; one training step updates D, then G, each with its own Adam optimizer.

The model has no encoder: protocol A is the only protocol that applies (fix the category and the motion noise,
draw new content, ask the judge for the category; :func:`s3vae_tf.evaluation.protocols.evaluate_generator`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import tensorflow as tf
from keras import layers, ops

from s3vae_tf.config import LossConfig, ModelConfig
from s3vae_tf.models.batch_norm import batch_norm
from s3vae_tf.models.decoder import FrameDecoder
from s3vae_tf.models.labels import ModelLabels
from s3vae_tf.models.replicas import global_batch_noise, replica_context

# Streams of the stateless noise of a training step.
_NOISE_CONTENT, _NOISE_MOTION, _NOISE_CATEGORY, _NOISE_FRAME_REAL, _NOISE_FRAME_FAKE = 0, 1, 2, 3, 4
_LEAK = 0.2


def _conv_stack(conv, filters: int, synchronized_bn: bool, prefix: str, conv_args: Callable[[int], dict]) -> list[layers.Layer]:
    """DCGAN discriminator body: widths filters x (1, 2, 4, 8), LeakyReLU(0.2), BatchNorm after the first;
    ``conv_args(i)`` gives layer i's extra arguments (its strides)."""
    stack: list[layers.Layer] = []
    for i, mult in enumerate((1, 2, 4, 8)):
        stack.append(conv(filters * mult, 4, padding="same", use_bias=i == 0, name=f"{prefix}{i + 1}", **conv_args(i)))
        if i:
            stack.append(batch_norm(synchronized_bn, f"bn{i + 1}"))
        stack.append(layers.LeakyReLU(_LEAK))
    return stack


@keras.saving.register_keras_serializable("s3vae_tf")
class ImageDiscriminator(keras.layers.Layer):
    """D_I: (N, 64, 64, C) frames -> (N,) logits of "real": four 4x4 stride-2 convolutions, a 4x4 valid one."""

    def __init__(self, filters: int = 64, synchronized_bn: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.synchronized_bn = filters, synchronized_bn
        stack = _conv_stack(layers.Conv2D, filters, synchronized_bn, "conv", conv_args=lambda i: {"strides": 2})
        stack += [layers.Conv2D(1, 4, padding="valid", name="conv5", dtype=keras.config.floatx()), layers.Flatten()]
        self.net = keras.Sequential(stack, name="net")

    def build(self, input_shape):
        self.net.build(tuple(input_shape))

    def call(self, frames, training: bool = False):
        return ops.cast(self.net(frames, training=training)[:, 0], keras.config.floatx())

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "synchronized_bn": self.synchronized_bn}


@keras.saving.register_keras_serializable("s3vae_tf")
class VideoDiscriminator(keras.layers.Layer):
    """D_V: (B, T, 64, 64, C) clips -> ((B,) logits of "real", (B, K) category logits).

    Four 4x4x4 3D convolutions (the first strided in space only, the others in time and space) with
    LeakyReLU(0.2) and BatchNorm, then two linear heads on the flattened features.
    """

    def __init__(self, filters: int = 64, categories: int = 1, synchronized_bn: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.categories, self.synchronized_bn = filters, int(categories), synchronized_bn
        stack = _conv_stack(layers.Conv3D, filters, synchronized_bn, "conv3d",
                            conv_args=lambda i: {"strides": (1, 2, 2) if i == 0 else (2, 2, 2)})
        self.net = keras.Sequential([*stack, layers.Flatten()], name="net")
        self.real = layers.Dense(1, dtype=keras.config.floatx(), name="real")
        self.category = layers.Dense(self.categories, dtype=keras.config.floatx(), name="category")

    def build(self, input_shape):
        self.net.build(tuple(input_shape))
        features = self.net.compute_output_shape(tuple(input_shape))
        self.real.build(features)
        self.category.build(features)

    def call(self, clips, training: bool = False):
        features = self.net(clips, training=training)
        return self.real(features)[:, 0], self.category(features)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "categories": self.categories, "synchronized_bn": self.synchronized_bn}


@keras.saving.register_keras_serializable("s3vae_tf")
class MoCoGAN(keras.Model):
    """MoCoGAN with categorical conditioning, sized like S3VAE (content ``f_dim``, motion ``z_dim``, DCGAN-64 ``filters``).

    Args:
        model: :class:`ModelConfig` fields (dict); ``dsvae_posterior``, ``posterior``, ``likelihood`` and the head
            sizes are not used.
        loss: :class:`LossConfig` fields (dict); only ``category_weight`` is used.
        labels: the dataset's heads (:class:`ModelLabels`); the first dynamic head is the action category.
        seed: seed of the stateless noise (a function of seed and step, so a resumed run draws the same noise).
    """

    has_encoder = False  # no encode / decode / swap: protocols B and swap, reconstructions and export do not apply
    TERMS = ("d_image", "d_video", "d_category", "g_image", "g_video", "g_category")
    MONITORS = ("category_acc_real", "category_acc_fake")

    def __init__(self, model: dict | None = None, loss: dict | None = None, labels: ModelLabels | dict | None = None,
                 seed: int = 0, variant: str = "mocogan", dataset_size: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.model_config = ModelConfig(**(model or {}))
        self.loss_config = LossConfig(**(loss or {}))
        self.labels = ModelLabels.from_value(labels)
        if not self.labels.dynamic:
            raise ValueError("MoCoGAN conditions on a category: the dataset needs a dynamic label head")
        self.variant, self.seed, self.dataset_size = variant, int(seed), int(dataset_size)
        self.category_head, self.categories = self.labels.dynamic[0]
        mc = self.model_config
        self.motion_rnn = layers.GRU(mc.z_dim, return_sequences=True, unroll=mc.unroll, name="motion_rnn")
        self.generator = FrameDecoder(mc.filters, mc.channels, mc.synchronized_bn, mc.lean_backward, name="generator")
        self.image_discriminator = ImageDiscriminator(mc.filters, mc.synchronized_bn, name="image_discriminator")
        self.video_discriminator = VideoDiscriminator(mc.filters, self.categories, mc.synchronized_bn, name="video_discriminator")
        self.d_optimizer = None
        self.trackers = [keras.metrics.Mean(name=name) for name in ("loss", "d_loss", "g_loss", *self.TERMS, *self.MONITORS)]

    # ----------------------------------------------------------------------------------------- config

    @property
    def frames(self) -> int:
        return self.model_config.frames

    def term_names(self) -> tuple[str, ...]:
        return self.TERMS

    def monitor_names(self) -> tuple[str, ...]:
        return self.MONITORS

    def get_config(self):
        return {
            **super().get_config(),
            "model": dataclasses.asdict(self.model_config),
            "loss": dataclasses.asdict(self.loss_config),
            "labels": self.labels.to_dict(),
            "seed": self.seed,
            "variant": self.variant,
            "dataset_size": self.dataset_size,
        }

    @property
    def metrics(self):
        return list(self.trackers)

    def build(self, input_shape=None):
        mc = self.model_config
        self.motion_rnn.build((None, mc.frames, mc.z_dim))
        self.generator.build((None, mc.z_dim + self.categories + mc.f_dim))
        self.image_discriminator.build((None, mc.frame_size, mc.frame_size, mc.channels))
        self.video_discriminator.build((None, mc.frames, mc.frame_size, mc.frame_size, mc.channels))
        self.built = True

    def compile(self, optimizer="adam", **kwargs):
        """``optimizer`` trains G (generator + motion GRU); a copy of its settings trains D (both discriminators)."""
        super().compile(optimizer=optimizer, **kwargs)
        base = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        self.d_optimizer = base.__class__.from_config({**base.get_config(), "name": "d_optimizer"})

    @property
    def generator_variables(self) -> list:
        return self.motion_rnn.trainable_variables + self.generator.trainable_variables

    @property
    def discriminator_variables(self) -> list:
        return self.image_discriminator.trainable_variables + self.video_discriminator.trainable_variables

    def build_optimizers(self) -> None:
        """Create both optimizers' slots (before a checkpoint is restored into them)."""
        self.optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.discriminator_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skip Keras' symbolic build when every weight exists (see :meth:`S3VAE._maybe_symbolic_build`)."""
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ----------------------------------------------------------------------------------------- generation

    def motion_codes(self, motion_noise: tf.Tensor) -> tf.Tensor:
        """z_M^(1:T) = GRU(eps_1:T): (B, T, Z) noise -> (B, T, Z) motion codes."""
        return self.motion_rnn(motion_noise)

    def generate_logits(self, content: tf.Tensor, category: tf.Tensor, motion_noise: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Frame logits of G([z_M^(t), one_hot(category), z_C]) for t = 1..T: (B, F), (B,) int, (B, T, Z) -> (B, T, H, W, C).

        z_C and the category are repeated over the frames: the code path keeps them constant within a clip."""
        mc = self.model_config
        motion = self.motion_codes(motion_noise)
        static = ops.concatenate([ops.one_hot(category, self.categories, dtype=motion.dtype), ops.cast(content, motion.dtype)], axis=-1)
        latents = ops.concatenate([motion, ops.repeat(static[:, None, :], mc.frames, axis=1)], axis=-1)
        logits = self.generator(ops.reshape(latents, (-1, mc.z_dim + self.categories + mc.f_dim)), training=training)
        return ops.reshape(logits, (-1, mc.frames, mc.frame_size, mc.frame_size, mc.channels))

    def generate_from_noise(self, content: tf.Tensor, motion_noise: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """Clips in [0, 1] from content codes (B, F), motion noise (B, T, Z) and categories (B,)."""
        return ops.sigmoid(self.generate_logits(content, category, motion_noise, training=False))

    def generate(self, count: int, seed: int = 0, category: tf.Tensor | None = None, content: tf.Tensor | None = None,
                 motion_noise: tf.Tensor | None = None) -> tf.Tensor:
        """``count`` clips with a fixed ``seed``; categories cycle through 0..K-1 unless given; any given code is
        kept (fix the category and motion noise to vary the content, fix the content to vary the motion)."""
        mc, dtype = self.model_config, keras.config.floatx()
        if content is None:
            content = tf.random.stateless_normal((count, mc.f_dim), seed=[seed, _NOISE_CONTENT], dtype=dtype, alg="philox")
        if motion_noise is None:
            motion_noise = tf.random.stateless_normal((count, mc.frames, mc.z_dim), seed=[seed, _NOISE_MOTION], dtype=dtype, alg="philox")
        if category is None:
            category = tf.range(count) % self.categories
        return self.generate_from_noise(content, motion_noise, tf.cast(category, tf.int32))

    # ----------------------------------------------------------------------------------------- losses

    def _step_noise(self, batch, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """The step's draws, for this replica's rows of the global batch: content, motion noise, a uniform
        category (argmax of K normals) and, per clip, a uniform frame for D_I from the real and the fake clip."""
        mc = self.model_config

        def normal(shape, stream):
            return global_batch_noise(shape, self.seed, stream, step)

        def uniform_index(count, stream):
            return tf.argmax(normal((batch, count), stream), axis=-1, output_type=tf.int32)

        return {
            "content": normal((batch, mc.f_dim), _NOISE_CONTENT),
            "motion": normal((batch, mc.frames, mc.z_dim), _NOISE_MOTION),
            "category": uniform_index(self.categories, _NOISE_CATEGORY),
            "frame_real": uniform_index(mc.frames, _NOISE_FRAME_REAL),
            "frame_fake": uniform_index(mc.frames, _NOISE_FRAME_FAKE),
        }

    def real_categories(self, data: dict[str, tf.Tensor]) -> tf.Tensor:
        """The category of each real clip: its first dynamic label on the first frame."""
        return tf.cast(data["dynamic_labels"][:, 0, 0], tf.int32)

    @staticmethod
    def _frame(clips: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        return tf.gather(clips, index, batch_dims=1)

    def discriminator_terms(self, real: tf.Tensor, labels: tf.Tensor, fake: tf.Tensor, noise, training: bool) -> dict[str, tf.Tensor]:
        """D's terms, per clip (B,): -log D_I(real frame) - log(1 - D_I(fake frame)), the same for D_V on whole clips,
        and the cross-entropy of D_V's category head on the real clips' labels."""
        image_real = self.image_discriminator(self._frame(real, noise["frame_real"]), training=training)
        image_fake = self.image_discriminator(self._frame(fake, noise["frame_fake"]), training=training)
        video_real, category_real = self.video_discriminator(real, training=training)
        video_fake, _ = self.video_discriminator(fake, training=training)
        return {
            "d_image": tf.nn.softplus(-image_real) + tf.nn.softplus(image_fake),
            "d_video": tf.nn.softplus(-video_real) + tf.nn.softplus(video_fake),
            "d_category": tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=category_real),
            "category_acc_real": tf.cast(tf.equal(tf.argmax(category_real, -1, output_type=tf.int32), labels), category_real.dtype),
        }

    def generator_terms(self, fake: tf.Tensor, noise, training: bool) -> dict[str, tf.Tensor]:
        """G's non-saturating terms, per clip (B,): -log D_I(fake frame), -log D_V(fake clip), and the cross-entropy
        of D_V's category head on the fake clips against their drawn category."""
        image_fake = self.image_discriminator(self._frame(fake, noise["frame_fake"]), training=training)
        video_fake, category_fake = self.video_discriminator(fake, training=training)
        return {
            "g_image": tf.nn.softplus(-image_fake),
            "g_video": tf.nn.softplus(-video_fake),
            "g_category": tf.nn.sparse_softmax_cross_entropy_with_logits(labels=noise["category"], logits=category_fake),
            "category_acc_fake": tf.cast(tf.equal(tf.argmax(category_fake, -1, output_type=tf.int32), noise["category"]), category_fake.dtype),
        }

    def d_loss(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        w = self.loss_config.category_weight
        return tf.reduce_mean(terms["d_image"]) + tf.reduce_mean(terms["d_video"]) + w * tf.reduce_mean(terms["d_category"])

    def g_loss(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        w = self.loss_config.category_weight
        return tf.reduce_mean(terms["g_image"]) + tf.reduce_mean(terms["g_video"]) + w * tf.reduce_mean(terms["g_category"])

    def _fake(self, batch, noise, training: bool) -> tf.Tensor:
        return ops.sigmoid(self.generate_logits(noise["content"], noise["category"], noise["motion"], training=training))

    def train_step(self, data):
        """One D update on real clips and G's clips, then one G update against the updated D."""
        replicas, _ = replica_context()
        real = data["frames"]
        labels = self.real_categories(data)
        noise = self._step_noise(tf.shape(real)[0], self.optimizer.iterations)
        g_tape = tf.GradientTape()
        with g_tape:  # G's clips, generated once: D reads them without gradient, then G's terms through the updated D
            fake = self._fake(tf.shape(real)[0], noise, training=True)
        with tf.GradientTape() as d_tape:  # (not nested: stop_recording would pause every tape of the thread)
            d_terms = self.discriminator_terms(real, labels, tf.stop_gradient(fake), noise, training=True)
            d_loss = self.d_loss(d_terms)
            d_scaled = d_loss / replicas  # each replica's gradients are summed: scale to the global-batch mean
        d_grads = d_tape.gradient(d_scaled, self.discriminator_variables)
        self.d_optimizer.apply(d_grads, self.discriminator_variables)
        with g_tape:
            g_terms = self.generator_terms(fake, noise, training=True)
            g_loss = self.g_loss(g_terms)
            scaled = self.optimizer.scale_loss(g_loss / replicas)
        g_grads = g_tape.gradient(scaled, self.generator_variables)
        self.optimizer.apply(g_grads, self.generator_variables)
        return self._report(d_loss, g_loss, {**d_terms, **g_terms})

    def test_step(self, data):
        real = data["frames"]
        noise = self._step_noise(tf.shape(real)[0], tf.constant(0, tf.int64))
        fake = self._fake(tf.shape(real)[0], noise, training=False)
        d_terms = self.discriminator_terms(real, self.real_categories(data), fake, noise, training=False)
        g_terms = self.generator_terms(fake, noise, training=False)
        return self._report(self.d_loss(d_terms), self.g_loss(g_terms), {**d_terms, **g_terms})

    def _report(self, d_loss: tf.Tensor, g_loss: tf.Tensor, terms: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        values = {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss, **{k: tf.reduce_mean(v) for k, v in terms.items()}}
        for tracker in self.trackers:
            tracker.update_state(values[tracker.name])
        logs = {tracker.name: tracker.result() for tracker in self.trackers}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}  # tensorflow#72388, as S3VAE
        return logs
