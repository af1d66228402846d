"""Approximate posterior: q(z_f | x_1:T) and q(z_t | ...) from per-frame features."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("s3vae_tf")
class Posterior(keras.layers.Layer):
    """Frame features (B, T, D) -> means and log-variances of z_f (B, F) and z_t (B, T, Z).

    A BiLSTM summarises the clip. z_f comes from its end states (forward at T, backward at 1), so it sees
    every frame. z_t comes from a tanh RNN over the BiLSTM outputs:

    * ``causal=False`` (default, the original code): both directions feed the RNN, so z_t sees the whole
      clip. It is the setting the published numbers were obtained with, and it reconstructs better.
    * ``causal=True`` (the paper's q(z_t | x_<=t)): only the forward direction feeds the RNN, so z_t depends
      on frames 1..t alone; use it to study the factorisation exactly as written in the paper.
    """

    def __init__(self, hidden_dim: int = 256, f_dim: int = 256, z_dim: int = 32, causal: bool = False, unroll: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim, self.f_dim, self.z_dim, self.causal, self.unroll = hidden_dim, f_dim, z_dim, causal, unroll
        self.bilstm = layers.Bidirectional(layers.LSTM(hidden_dim, return_sequences=True, unroll=unroll), name="bilstm")
        self.f_mean = layers.Dense(f_dim, dtype=keras.config.floatx(), name="f_mean")
        self.f_logvar = layers.Dense(f_dim, dtype=keras.config.floatx(), name="f_logvar")
        self.z_rnn = layers.SimpleRNN(hidden_dim, return_sequences=True, unroll=unroll, name="z_rnn")
        self.z_mean = layers.Dense(z_dim, dtype=keras.config.floatx(), name="z_mean")
        self.z_logvar = layers.Dense(z_dim, dtype=keras.config.floatx(), name="z_logvar")

    def build(self, input_shape):
        batch, frames, _ = input_shape
        self.bilstm.build(input_shape)
        for dense in (self.f_mean, self.f_logvar):
            dense.build((batch, 2 * self.hidden_dim))
        self.z_rnn.build((batch, frames, self.hidden_dim if self.causal else 2 * self.hidden_dim))
        for dense in (self.z_mean, self.z_logvar):
            dense.build((batch, frames, self.hidden_dim))

    def summarize(self, features):
        """BiLSTM outputs (B, T, 2H): forward half first, backward half second."""
        return self.bilstm(features)

    def static(self, summary):
        """(f_mean, f_logvar) from the BiLSTM's end states."""
        ends = ops.concatenate([summary[:, -1, : self.hidden_dim], summary[:, 0, self.hidden_dim :]], axis=-1)
        return self.f_mean(ends), self.f_logvar(ends)

    def dynamic(self, summary):
        """(z_mean, z_logvar), each (B, T, Z)."""
        inputs = summary[..., : self.hidden_dim] if self.causal else summary
        hidden = self.z_rnn(inputs)
        return self.z_mean(hidden), self.z_logvar(hidden)

    def dynamic_given(self, features, summary, z_f):
        """(z_mean, z_logvar) of q(z_t | ...) given the frame features, their summary and a value of z_f. S3VAE's
        z_t does not depend on z_f (it reads the summary only); :class:`DSVAEPosterior`'s full posterior does."""
        return self.dynamic(summary)

    def call(self, features, z_f=None):
        """Posterior parameters; a posterior whose z_t is conditioned on z_f uses ``z_f`` (default: its mean)."""
        summary = self.summarize(features)
        f_mean, f_logvar = self.static(summary)
        z_mean, z_logvar = self.dynamic_given(features, summary, f_mean if z_f is None else z_f)
        return {"f_mean": f_mean, "f_logvar": f_logvar, "z_mean": z_mean, "z_logvar": z_logvar}

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "f_dim": self.f_dim,
            "z_dim": self.z_dim,
            "causal": self.causal,
            "unroll": self.unroll,
        }


@keras.saving.register_keras_serializable("s3vae_tf")
class DSVAEPosterior(Posterior):
    """DSVAE's posteriors (Li & Mandt 2018): q(z_f | x_1:T) as S3VAE's (the BiLSTM's end states), and one of

    * ``factorisation="full"``: q(z_t | x_1:T, z_f), a BiLSTM over [frame features, z_f] across the whole clip,
      then a tanh RNN over its outputs; in training z_f is the reparameterised sample of q(z_f | x_1:T);
    * ``factorisation="factorised"``: q(z_t | x_t), a one-hidden-layer MLP on frame t's features alone.
    """

    def __init__(self, hidden_dim: int = 256, f_dim: int = 256, z_dim: int = 32, factorisation: str = "full",
                 unroll: bool = False, **kwargs):
        kwargs.pop("causal", None)
        super().__init__(hidden_dim, f_dim, z_dim, causal=False, unroll=unroll, **kwargs)
        if factorisation not in ("full", "factorised"):
            raise ValueError(f"unknown DSVAE posterior {factorisation!r}; choose full or factorised")
        self.factorisation = factorisation
        if factorisation == "full":
            self.z_bilstm = layers.Bidirectional(layers.LSTM(hidden_dim, return_sequences=True, unroll=unroll), name="z_bilstm")
        else:
            self.z_hidden = layers.Dense(hidden_dim, activation="tanh", name="z_hidden")

    @property
    def conditions_on_static(self) -> bool:
        """Whether q(z_t | ...) reads a value of z_f (the full posterior)."""
        return self.factorisation == "full"

    def build(self, input_shape):
        batch, frames, dim = input_shape
        self.bilstm.build(input_shape)
        for dense in (self.f_mean, self.f_logvar):
            dense.build((batch, 2 * self.hidden_dim))
        if self.conditions_on_static:
            self.z_bilstm.build((batch, frames, dim + self.f_dim))
            self.z_rnn.build((batch, frames, 2 * self.hidden_dim))
        else:
            self.z_hidden.build((batch, frames, dim))
        for dense in (self.z_mean, self.z_logvar):
            dense.build((batch, frames, self.hidden_dim))

    def dynamic_given(self, features, summary, z_f):
        if self.conditions_on_static:
            frames = features.shape[1]  # static: T is fixed by the model
            static = ops.repeat(ops.cast(z_f, features.dtype)[:, None, :], frames, axis=1)
            hidden = self.z_rnn(self.z_bilstm(ops.concatenate([features, static], axis=-1)))
        else:
            hidden = self.z_hidden(features)
        return self.z_mean(hidden), self.z_logvar(hidden)

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        return {**config, "factorisation": self.factorisation}
