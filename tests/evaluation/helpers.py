"""Stand-ins with known behaviour for testing the evaluation's wiring, and a tiny judge's settings."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TINY_JUDGE = dict(filters=4, conv_dim=16, hidden_dim=16)
FRAMES, SIZE = 4, 8


class DisentangledStub:
    """A perfectly disentangled "model" on 8x8 clips: channel 0 of every pixel is z_f (F = 1), channel 1
    of frame t is z_t (Z = 1); the "learned prior" of z_t is its noise."""

    def encode(self, frames):
        frames = tf.convert_to_tensor(frames, tf.float32)
        return {"f_mean": frames[:, 0, 0, 0, 0:1], "z_mean": frames[:, :, 0, 0, 1:2]}

    def decode(self, z_f, z_t):
        z_f, z_t = tf.convert_to_tensor(z_f, tf.float32), tf.convert_to_tensor(z_t, tf.float32)
        batch, frames = tf.shape(z_t)[0], tf.shape(z_t)[1]
        shape = tf.stack([batch, frames, SIZE, SIZE])
        static = tf.broadcast_to(z_f[:, None, None, None, 0], shape)
        dynamic = tf.broadcast_to(z_t[:, :, None, None, 0], shape)
        return tf.stack([static, dynamic, tf.zeros_like(static)], axis=-1)

    def __call__(self, frames, training=False):
        params = self.encode(frames)
        return self.decode(params["f_mean"], params["z_mean"])

    def swap(self, a, b):
        pa, pb = self.encode(a), self.encode(b)
        return self.decode(pb["f_mean"], pa["z_mean"]), self.decode(pa["f_mean"], pb["z_mean"])

    def generate_from_noise(self, f_noise, z_noise, z_f=None, z_t=None, prior_means=False):
        return self.decode(f_noise if z_f is None else z_f, z_noise if z_t is None else z_t)

    def generate(self, count, seed=0, z_f=None, z_t=None):
        f_noise = tf.random.stateless_normal((count, 1), seed=[seed, 0])
        z_noise = tf.random.stateless_normal((count, FRAMES, 1), seed=[seed, 1])
        return self.generate_from_noise(f_noise, z_noise, z_f, z_t)


class ReadingJudge:
    """A "judge" that reads labels off the stub's channels: static class round(10 * channel 0), dynamic
    class round(10 * channel 1), clipped to the class range, with full confidence."""

    heads = [
        {"name": "shape", "classes": 4, "factor": "static", "column": 0, "per_frame": False},
        {"name": "move", "classes": 3, "factor": "dynamic", "column": 0, "per_frame": False},
    ]

    def probabilities(self, frames):
        def read(channel, classes):
            value = tf.clip_by_value(tf.round(10.0 * frames[:, 0, 0, 0, channel]), 0, classes - 1)
            return tf.one_hot(tf.cast(value, tf.int32), classes)

        return {"shape": read(0, 4), "move": read(1, 3)}


def labelled_stub_clips(repeat: int = 2) -> dict[str, np.ndarray]:
    """uint8 clips (pixel_scale 100) whose channels carry static label s / 10 and dynamic label d / 10."""
    pairs = [(s, d) for s in range(4) for d in range(3)] * repeat
    frames = np.zeros((len(pairs), FRAMES, SIZE, SIZE, 3), np.uint8)
    for i, (s, d) in enumerate(pairs):
        frames[i, ..., 0], frames[i, ..., 1] = 10 * s, 10 * d
    static = np.array([[s] for s, _ in pairs], np.int32)
    dynamic = np.array([[[d]] * FRAMES for _, d in pairs], np.int32)
    return {"frames": frames, "static": static, "dynamic": dynamic}
