"""S3VAE: the sequential VAE with its self-supervised losses, as one Keras model.

Data flows encoder -> posterior -> (prior, decoder, heads) -> losses. A training step encodes each frame
once: the positive clip of the triplet loss is the anchor with its frames permuted, so its conv features
are the anchor's features permuted (BatchNorm batch statistics do not depend on the order), and only the
BiLSTM reruns; the negative is another clip of the batch (the batch rolled by one), whose z_f is already
computed. Terms that couple clips of a batch (triplet, mutual information) are computed on the global
batch, gathered over replicas, so N replicas give the same update as one device.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf
from keras import ops

from s3vae_tf.config import LossConfig, ModelConfig, uses_partners
from s3vae_tf.losses.dynamic_factor import flow_grid_loss, landmark_loss
from s3vae_tf.losses.elbo import kl_divergence, reconstruction_loss
from s3vae_tf.losses.mutual_info import mutual_information
from s3vae_tf.losses.supervised import classification_loss
from s3vae_tf.losses.triplet import triplet_hinge
from s3vae_tf.models.decoder import FrameDecoder
from s3vae_tf.models.distributions import diagonal_gaussian, frame_likelihood, standard_normal_like
from s3vae_tf.models.encoder import FrameEncoder
from s3vae_tf.models.heads import PredictionHead, reverse_gradient
from s3vae_tf.models.initializers import original_init
from s3vae_tf.models.labels import ModelLabels
from s3vae_tf.models.posterior import DSVAEPosterior, Posterior
from s3vae_tf.models.prior import DynamicPrior
from s3vae_tf.models.replicas import gather_batch, global_batch_noise, replica_context

# Streams of the stateless noise, so every random draw of a step has its own sequence.
_NOISE_F, _NOISE_Z = 0, 1


@keras.saving.register_keras_serializable("s3vae_tf")
class S3VAE(keras.Model):
    """Self-supervised sequential VAE (Zhu et al., CVPR 2020).

    Args:
        model: :class:`ModelConfig` fields (dict).
        loss: :class:`LossConfig` fields (dict).
        variant: ``full`` (SCC + DFP + MI), ``baseline`` (ELBO only), ``baseline-sv`` (ground-truth labels
            instead of self-supervision: z_f -> static labels, z_t -> dynamic labels; MI kept), or ``dsvae``
            (Li & Mandt 2018, for Table 1's comparison: the ELBO only, with DSVAE's posterior of
            ``model["dsvae_posterior"]``, :class:`~s3vae_tf.models.posterior.DSVAEPosterior`).
        labels: the dataset's heads and DFP signal, :class:`ModelLabels` (or its ``to_dict`` form).
        dataset_size: N for the minibatch-weighted MI estimator (0: the batch is the data set).
        seed: seed of the stateless reparameterisation noise (a function of seed and optimizer step, so a
            resumed run draws the same noise as an uninterrupted one).
    """

    has_encoder = True  # encode / decode / swap exist: every protocol, the pictures and export apply

    def __init__(
        self,
        model: dict | None = None,
        loss: dict | None = None,
        variant: str = "full",
        labels: ModelLabels | dict | None = None,
        dataset_size: int = 0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.model_config = ModelConfig(**(model or {}))
        self.loss_config = LossConfig(**(loss or {}))
        self.variant = variant
        self.labels = ModelLabels.from_value(labels)
        self.dataset_size = int(dataset_size)
        self.seed = int(seed)
        mc = self.model_config
        self.encoder = FrameEncoder(mc.filters, mc.conv_dim, mc.synchronized_bn, mc.lean_backward, name="encoder")
        if variant == "dsvae":
            self.posterior = DSVAEPosterior(mc.hidden_dim, mc.f_dim, mc.z_dim, mc.dsvae_posterior, unroll=mc.unroll, name="posterior")
        else:
            self.posterior = Posterior(mc.hidden_dim, mc.f_dim, mc.z_dim, causal=mc.posterior == "causal", unroll=mc.unroll, name="posterior")
        self.prior = DynamicPrior(mc.z_dim, mc.prior_hidden_dim, mc.prior_layers, unroll=mc.unroll, name="prior")
        self.decoder = FrameDecoder(mc.filters, mc.channels, mc.synchronized_bn, mc.lean_backward, name="decoder")
        self.dfp_head = self.static_head = self.dynamic_head = self.static_adversary = None
        if variant == "full":
            outputs = self.labels.dfp_outputs()
            self.dfp_head = PredictionHead(outputs, mc.head_dim, name="dfp_head")
            if self.loss_config.static_adversary_weight > 0:
                # The same labels for every frame at once, read from z_f alone.
                steps = mc.frames - 1 if self.labels.uses_flow else mc.frames
                self.static_adversary = PredictionHead([[n, steps * k] for n, k in outputs], mc.head_dim, name="static_adversary")
        elif variant == "baseline-sv":
            self.static_head = PredictionHead([list(h) for h in self.labels.static], mc.head_dim, name="static_head")
            self.dynamic_head = PredictionHead([list(h) for h in self.labels.dynamic], mc.head_dim, name="dynamic_head")
        elif variant not in ("baseline", "dsvae"):
            raise ValueError(f"unknown variant {variant!r}")
        self.trackers = [keras.metrics.Mean(name=name) for name in ("loss", *self.term_names(), *self.monitor_names())]

    # ----------------------------------------------------------------------------------------- config

    @property
    def frames(self) -> int:
        return self.model_config.frames

    def term_names(self) -> tuple[str, ...]:
        """Names of the loss terms this variant reports (besides the total ``loss``)."""
        names = ["recon", "kl_f", "kl_z"]
        if self.variant == "full":
            names.append("scc")
            names += self.labels.dfp_term_names()
            if self.static_adversary is not None:
                names.append("adv_static")
        if self.variant in ("full", "baseline-sv"):
            names.append("mi")
        if self.variant == "baseline-sv":
            names += ["sv_static", "sv_dynamic"]
            if self.uses_partners:
                names.append("sv_scc")
        return tuple(names)

    @property
    def uses_partners(self) -> bool:
        """Whether training batches must carry ``partner_frames`` (baseline-sv's ground-truth triplet)."""
        return uses_partners(self.variant, self.loss_config)

    def monitor_names(self) -> tuple[str, ...]:
        """Quantities logged beside the terms that are not part of the loss."""
        return ("scc_active",) if self.variant == "full" else ()

    def term_weights(self) -> dict[str, float]:
        lc = self.loss_config
        return {
            "recon": 1.0,
            "kl_f": lc.kl_f_weight,
            "kl_z": lc.kl_z_weight,
            "scc": lc.triplet_weight,
            "dfp_moving": lc.dfp_moving_weight,
            "dfp_direction": lc.dfp_direction_weight,
            "dfp_landmarks": lc.dfp_landmark_weight,
            "mi": lc.mi_weight,
            "sv_static": lc.sv_static_weight,
            "sv_dynamic": lc.sv_dynamic_weight,
            "sv_scc": lc.sv_triplet_weight,
            "adv_static": lc.static_adversary_weight,
        }

    def get_config(self):
        return {
            **super().get_config(),
            "model": dataclasses.asdict(self.model_config),
            "loss": dataclasses.asdict(self.loss_config),
            "variant": self.variant,
            "labels": self.labels.to_dict(),
            "dataset_size": self.dataset_size,
            "seed": self.seed,
        }

    @property
    def metrics(self):
        return list(self.trackers)

    def build(self, input_shape=None):
        """Create every weight (also those only sampling or the heads use) for a (B, T, H, W, C) input."""
        mc = self.model_config
        self.encoder.build((None, mc.frame_size, mc.frame_size, mc.channels))
        self.posterior.build((None, mc.frames, mc.conv_dim))
        self.prior.build((None, mc.frames, mc.z_dim))
        self.decoder.build((None, mc.f_dim + mc.z_dim))
        if self.dfp_head is not None:
            self.dfp_head.build((None, mc.frames, mc.z_dim))
        if self.static_head is not None:
            self.static_head.build((None, mc.f_dim))
            self.dynamic_head.build((None, mc.frames, mc.z_dim))
        if self.static_adversary is not None:
            self.static_adversary.build((None, mc.f_dim))
        if mc.init == "original" and not self.built:
            original_init(self, self.seed)
        self.built = True

    def build_optimizers(self) -> None:
        """Create the optimizer's slots for every trainable variable (before a checkpoint is restored into them)."""
        self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skip Keras' symbolic build when every weight already exists (``build`` made them).

        Under a strategy, Keras first reduces a sample batch across replicas to build the model, and
        MultiWorkerMirroredStrategy cannot reduce a dict batch (fit would fail before the first step).
        """
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --------------------------------------------------------------------------- building blocks

    def frame_features(self, frames: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Per-frame conv features: (B, T, H, W, C) -> (B, T, conv_dim)."""
        mc = self.model_config
        flat = ops.reshape(frames, (-1, mc.frame_size, mc.frame_size, mc.channels))
        features = self.encoder(flat, training=training)
        return ops.reshape(features, (-1, mc.frames, mc.conv_dim))

    def decode_logits(self, z_f: tf.Tensor, z_t: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Frame logits p(x_t | z_f, z_t): (B, F), (B, T, Z) -> (B, T, H, W, C)."""
        mc = self.model_config
        f = ops.repeat(z_f[:, None, :], mc.frames, axis=1)
        latents = ops.concatenate([ops.cast(z_t, f.dtype), f], axis=-1)
        logits = self.decoder(ops.reshape(latents, (-1, mc.z_dim + mc.f_dim)), training=training)
        return ops.reshape(logits, (-1, mc.frames, mc.frame_size, mc.frame_size, mc.channels))

    def call(self, frames, training: bool = False):
        """Reconstruction from the posterior means (B, T, H, W, C) -> frames in [0, 1]."""
        params = self.posterior(self.frame_features(frames, training=training))
        return ops.sigmoid(self.decode_logits(params["f_mean"], params["z_mean"], training=training))

    # ----------------------------------------------------------------- public API (export wraps these)

    def encode(self, frames: tf.Tensor) -> dict[str, tf.Tensor]:
        """Posterior parameters of clips: f_mean/f_logvar (B, F), z_mean/z_logvar (B, T, Z)."""
        return self.posterior(self.frame_features(frames, training=False))

    def decode(self, z_f: tf.Tensor, z_t: tf.Tensor) -> tf.Tensor:
        """Frames in [0, 1] from latents: (B, F), (B, T, Z) -> (B, T, H, W, C)."""
        return ops.sigmoid(self.decode_logits(z_f, z_t, training=False))

    def swap(self, a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Exchange appearance: (a's motion with b's z_f, b's motion with a's z_f), from posterior means."""
        both = self.encode(ops.concatenate([a, b], axis=0))
        n = ops.shape(a)[0]
        f_a, f_b = both["f_mean"][:n], both["f_mean"][n:]
        z_a, z_b = both["z_mean"][:n], both["z_mean"][n:]
        frames = self.decode(ops.concatenate([f_b, f_a], axis=0), ops.concatenate([z_a, z_b], axis=0))
        return frames[:n], frames[n:]

    def generate_from_noise(self, f_noise: tf.Tensor, z_noise: tf.Tensor, z_f: tf.Tensor | None = None,
                            z_t: tf.Tensor | None = None, prior_means: bool = False) -> tf.Tensor:
        """Frames from standard-normal noise: z_f = f_noise (the prior N(0, I)) unless given; z_t sampled
        from the learned prior with ``z_noise`` (B, T, Z) unless given. Fix z_f to vary motion, fix z_t to
        vary appearance. ``prior_means`` decodes the means p(z_t | z_<t) of the sampled path instead of
        its samples (what the original evaluation code decodes)."""
        if z_f is None:
            z_f = f_noise
        if z_t is None:
            sampled, means, _ = self.prior.sample(z_noise)
            z_t = means if prior_means else sampled
        return self.decode(z_f, z_t)

    def generate(self, count: int, seed: int = 0, z_f: tf.Tensor | None = None, z_t: tf.Tensor | None = None) -> tf.Tensor:
        """``count`` clips sampled with a fixed ``seed`` (same seed, same clips)."""
        mc = self.model_config
        dtype = keras.config.floatx()
        f_noise = tf.random.stateless_normal((count, mc.f_dim), seed=[seed, _NOISE_F], dtype=dtype, alg="philox")
        z_noise = tf.random.stateless_normal((count, mc.frames, mc.z_dim), seed=[seed, _NOISE_Z], dtype=dtype, alg="philox")
        return self.generate_from_noise(f_noise, z_noise, z_f, z_t)

    def posterior_distributions(self, frames: tf.Tensor):
        """q(z_f | x) and q(z_1:T | x) as TFP distributions (one event per clip); for dsvae's full posterior
        q(z_1:T | x, z_f) at the mean of z_f."""
        return self._posteriors(self.encode(frames))

    def prior_distribution(self, z_t: tf.Tensor):
        """p(z_1:T) = prod_t p(z_t | z_<t) evaluated along ``z_t`` (teacher forcing), as a TFP distribution."""
        mean, logvar = self.prior(z_t)
        return diagonal_gaussian(mean, logvar, 2)

    def likelihood(self, z_f: tf.Tensor, z_t: tf.Tensor, training: bool = False):
        """p(x_1:T | z_f, z_1:T) as a TFP distribution over clips."""
        return frame_likelihood(self.decode_logits(z_f, z_t, training=training), self.model_config.likelihood)

    @staticmethod
    def _posteriors(params: dict[str, tf.Tensor]):
        return diagonal_gaussian(params["f_mean"], params["f_logvar"], 1), diagonal_gaussian(params["z_mean"], params["z_logvar"], 2)

    # ----------------------------------------------------------------------------------- losses

    def _noise(self, local_shape: tuple, stream: int, step: tf.Tensor) -> tf.Tensor:
        """Reparameterisation noise: this replica's rows of the global batch's, a function of (seed, step)."""
        return global_batch_noise(local_shape, self.seed, stream, step)

    def compute_terms(self, data: dict[str, tf.Tensor], training: bool, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every loss term of the variant, per clip (B,) or over the global batch, unweighted."""
        return self.terms_and_monitors(data, training, step)[0]

    def terms_and_monitors(self, data: dict[str, tf.Tensor], training: bool, step: tf.Tensor) -> tuple[dict, dict]:
        """(loss terms as :meth:`compute_terms`, monitors of :meth:`monitor_names`): the ELBO, then the variant's
        self-supervision (full: SCC, DFP, MI) or supervision (baseline-sv: the labels, MI); baseline and dsvae stop
        at the ELBO. z_t's posterior is read given the sample of z_f (only dsvae's full posterior uses it)."""
        mc, batch = self.model_config, tf.shape(data["frames"])[0]
        features, partner_features = self._batch_features(data, training)
        summary = self.posterior.summarize(features)
        f_mean, f_logvar = self.posterior.static(summary)
        f = f_mean + tf.exp(0.5 * f_logvar) * self._noise((batch, mc.f_dim), _NOISE_F, step)
        z_mean, z_logvar = self.posterior.dynamic_given(features, summary, f)  # dsvae's full q(z_t | x, z_f) reads the sample
        params = {"f_mean": f_mean, "f_logvar": f_logvar, "z_mean": z_mean, "z_logvar": z_logvar}
        q_f, q_z = self._posteriors(params)
        z = z_mean + tf.exp(0.5 * z_logvar) * self._noise((batch, mc.frames, mc.z_dim), _NOISE_Z, step)
        terms = {
            "recon": reconstruction_loss(self.likelihood(f, z, training=training), data["frames"]),
            "kl_f": kl_divergence(q_f, standard_normal_like(params["f_mean"], 1)),
            "kl_z": kl_divergence(q_z, self.prior_distribution(z)),
        }
        monitors: dict[str, tf.Tensor] = {}
        if self.variant == "full":
            self_supervised, monitors = self._self_supervision(data, features, params, z)
            terms.update(self_supervised)
        if self.variant == "baseline-sv":
            terms.update(self._supervision(data, partner_features, params, z))
        if self.variant in ("full", "baseline-sv"):
            terms["mi"] = self._mutual_information(f, z, params)
        return terms, monitors

    def _batch_features(self, data: dict[str, tf.Tensor], training: bool) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Conv features of the clips and, for baseline-sv's triplet, of their partners (one encoder pass)."""
        frames = data["frames"]
        if not self.uses_partners:
            return self.frame_features(frames, training=training), None
        if "partner_frames" not in data:
            raise ValueError("baseline-sv with sv_triplet_weight > 0 needs batches with 'partner_frames' (ClipSource(partners=True))")
        batch = tf.shape(frames)[0]
        both = self.frame_features(tf.concat([frames, data["partner_frames"]], axis=0), training=training)
        return both[:batch], both[batch:]

    def _self_supervision(self, data, features, params, z) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """(terms, monitors): SCC (the anchor's z_f vs its frame-shuffled positive and another clip) and DFP (z_t ->
        the flow grid or the landmarks; with the static adversary, the DFP labels must not be readable from z_f),
        and SCC's fraction of active triplets."""
        f_mean, batch = params["f_mean"], tf.shape(data["frames"])[0]
        positive = tf.gather(features, data["positive_order"], batch_dims=1)  # the same features, frames shuffled
        f_positive, _ = self.posterior.static(self.posterior.summarize(positive))
        hinge = self._triplet_hinge(f_mean, f_positive)
        monitors = {"scc_active": tf.reduce_mean(tf.cast(hinge > 0, hinge.dtype))}
        terms = {"scc": tf.nn.relu(hinge), **self._dfp_terms(self.dfp_head(z), data, batch, per_frame=True)}
        if self.static_adversary is not None:
            guesses = self.static_adversary(reverse_gradient(f_mean))
            terms["adv_static"] = tf.add_n(list(self._dfp_terms(guesses, data, batch, per_frame=False).values()))
        return terms, monitors

    def _supervision(self, data, partner_features, params, z) -> dict[str, tf.Tensor]:
        """baseline-sv: z_f -> the static labels, z_t -> the dynamic labels, and SCC with a same-appearance clip
        as the positive (when the batches carry partners)."""
        f_mean = params["f_mean"]
        terms = {
            "sv_static": classification_loss(self.static_head(f_mean), data["static_labels"]),
            "sv_dynamic": classification_loss(self.dynamic_head(z), data["dynamic_labels"]),
        }
        if partner_features is not None:
            f_partner, _ = self.posterior.static(self.posterior.summarize(partner_features))
            terms["sv_scc"] = tf.nn.relu(self._triplet_hinge(f_mean, f_partner))
        return terms

    def _mutual_information(self, f: tf.Tensor, z: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """sum_t I(z_f; z_t) on the global batch (minibatch-weighted sampling); a negative estimate is noise, not
        something to push further down, so each step's estimate is clipped at 0."""
        per_step = mutual_information(
            gather_batch(f), gather_batch(params["f_mean"]), gather_batch(params["f_logvar"]),
            gather_batch(z), gather_batch(params["z_mean"]), gather_batch(params["z_logvar"]), self.dataset_size,
        )
        return tf.reduce_sum(tf.nn.relu(per_step))

    def _triplet_hinge(self, anchor: tf.Tensor, positive: tf.Tensor) -> tf.Tensor:
        """SCC's hinge on the global batch: the negative of each clip is the next clip's anchor (batch rolled)."""
        lc = self.loss_config
        anchor_all = gather_batch(anchor)
        return triplet_hinge(anchor_all, gather_batch(positive), tf.roll(anchor_all, 1, axis=0), lc.triplet_margin, lc.triplet_normalize)

    def _dfp_terms(self, outputs: dict[str, tf.Tensor], data: dict[str, tf.Tensor], batch, per_frame: bool) -> dict[str, tf.Tensor]:
        """DFP losses of head ``outputs``: per frame (B, T, units) from z_t, or all frames at once (B, units)
        from z_f (the static adversary)."""
        mc, reduction = self.model_config, self.loss_config.dfp_reduction
        if self.labels.uses_flow:
            cells, bins = self.labels.cells, self.labels.flow_bins
            moving, direction = outputs["moving"], outputs["direction"]
            if per_frame:
                # z_t predicts the motion that led into frame t (pair t-1 -> t): causal posteriors can see it.
                moving, direction = moving[:, 1:], direction[:, 1:]
            moving = tf.reshape(moving, (batch, mc.frames - 1, cells))
            direction = tf.reshape(direction, (batch, mc.frames - 1, cells, bins))
            bce, ce = flow_grid_loss(moving, direction, data["flow_moving"], data["flow_direction"], reduction)
            return {"dfp_moving": bce, "dfp_direction": ce}
        landmarks = tf.reshape(outputs["landmarks"], (batch, mc.frames, 3))
        return {"dfp_landmarks": landmark_loss(landmarks, data["landmarks"], reduction)}

    def term_gradient_norms(self, data: dict[str, tf.Tensor], step: tf.Tensor) -> dict[str, tf.Tensor]:
        """Norm of each weighted term's gradient on the inference network (conv encoder + posterior), on
        one batch in training mode, plus the monitors. A term whose norm is ~0 does nothing to the encoder.

        The forward pass updates BatchNorm's moving statistics like a training step does; callers that
        must not change the model restore ``non_trainable_variables`` afterwards.
        """
        weights = self.term_weights()
        variables = self.encoder.trainable_variables + self.posterior.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            terms, monitors = self.terms_and_monitors(data, training=True, step=step)
            weighted = {name: weights[name] * tf.reduce_mean(value) for name, value in terms.items()}
        norms = {}
        for name, value in weighted.items():
            grads = [g for g in tape.gradient(value, variables) if g is not None]
            norms[name] = tf.linalg.global_norm(grads) if grads else tf.zeros((), value.dtype)
        del tape
        return {**norms, **monitors}

    def total_loss(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """Weighted sum of the batch means of the terms."""
        weights = self.term_weights()
        return tf.add_n([weights[name] * tf.reduce_mean(value) for name, value in terms.items()])

    def _report(self, loss: tf.Tensor, terms: dict[str, tf.Tensor], monitors: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        values = {"loss": loss, **{name: tf.reduce_mean(v) for name, v in terms.items()}, **monitors}
        for tracker in self.trackers:
            tracker.update_state(values[tracker.name])
        logs = {tracker.name: tracker.result() for tracker in self.trackers}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker logs with axis=0, which fails on scalars (tensorflow#72388).
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        replicas, _ = replica_context()
        with tf.GradientTape() as tape:
            terms, monitors = self.terms_and_monitors(data, training=True, step=self.optimizer.iterations)
            loss = self.total_loss(terms)
            # Each replica's gradients are summed across replicas: scale to the global-batch mean.
            scaled = self.optimizer.scale_loss(loss / replicas)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._report(loss, terms, monitors)

    def test_step(self, data):
        terms, monitors = self.terms_and_monitors(data, training=False, step=tf.constant(0, tf.int64))
        return self._report(self.total_loss(terms), terms, monitors)
