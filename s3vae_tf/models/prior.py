"""Learned dynamic prior p(z_t | z_<t): a stacked LSTM, teacher-forced in training, sampled step by step."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("s3vae_tf")
class DynamicPrior(keras.layers.Layer):
    """Means and log-variances of p(z_t | z_<t) for t = 1..T; z_0 is a zero vector."""

    def __init__(self, z_dim: int = 32, hidden_dim: int = 256, num_layers: int = 2, unroll: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.z_dim, self.hidden_dim, self.num_layers, self.unroll = z_dim, hidden_dim, num_layers, unroll
        # One attribute per LSTM: tf.train.Checkpoint does not see layers held in a Python list (Keras 3).
        for i in range(num_layers):
            setattr(self, f"lstm{i + 1}", layers.LSTM(hidden_dim, return_sequences=True, unroll=unroll, name=f"lstm{i + 1}"))
        self.mean = layers.Dense(z_dim, dtype=keras.config.floatx(), name="mean")
        self.logvar = layers.Dense(z_dim, dtype=keras.config.floatx(), name="logvar")

    @property
    def lstms(self) -> list[layers.LSTM]:
        return [getattr(self, f"lstm{i + 1}") for i in range(self.num_layers)]

    def build(self, input_shape):
        batch, frames, _ = input_shape
        shape = (batch, frames, self.z_dim)
        for lstm in self.lstms:
            lstm.build(shape)
            shape = (batch, frames, self.hidden_dim)
        self.mean.build(shape)
        self.logvar.build(shape)

    def call(self, z):
        """Teacher forcing: given z (B, T, Z) (posterior samples), the prior's parameters at every step."""
        x = ops.concatenate([ops.zeros_like(z[:, :1]), z[:, :-1]], axis=1)
        for lstm in self.lstms:
            x = lstm(x)
        return self.mean(x), self.logvar(x)

    def sample(self, noise):
        """Autoregressive sampling: standard-normal ``noise`` (B, T, Z) -> z, mean, logvar, each (B, T, Z).

        z_t = mean_t + exp(logvar_t / 2) * noise_t, reparameterised by hand so exported graphs need only
        plain ops (no TFP sampler).
        """
        batch = ops.shape(noise)[0]
        states = [
            [ops.zeros((batch, self.hidden_dim), self.compute_dtype), ops.zeros((batch, self.hidden_dim), self.compute_dtype)]
            for _ in self.lstms
        ]
        previous = ops.zeros_like(noise[:, 0])
        zs, means, logvars = [], [], []
        for t in range(noise.shape[1]):
            x = previous
            for i, lstm in enumerate(self.lstms):
                x, states[i] = lstm.cell(x, states[i])
            mean, logvar = self.mean(x), self.logvar(x)
            previous = mean + ops.exp(0.5 * logvar) * noise[:, t]
            zs.append(previous)
            means.append(mean)
            logvars.append(logvar)
        return ops.stack(zs, axis=1), ops.stack(means, axis=1), ops.stack(logvars, axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "z_dim": self.z_dim,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "unroll": self.unroll,
        }
