"""The exported sampler's counter-based noise: bit-exact with its specification, and standard normal."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from export import noise

P = 2**31 - 1


def reference_bits(seed: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """The documented hash in numpy int64 (with a plain rotation), independent of the TF version."""
    key = np.mod(seed.astype(np.int64), P)
    k1 = (key * 1103515245 % P + 12345) % P
    y = ((counter + 1) * 48271 % P + k1) % P
    y = (y * 69621 + key) % P
    z = (y + 1013904223) % P
    x = y
    for add in (y, z, y, z):
        x = (x * x + add) % P
        x = (x % 65536) * 32768 + x // 65536
    return x


def test_bits_match_the_specification():
    seed = np.array([0, 1, 12345, P - 1, 2**31 - 1, -5])[:, None]
    counter = np.arange(0, 3000, 7, dtype=np.int64)[None, :]
    got = noise.uniform_bits(tf.constant(seed), tf.constant(counter)).numpy()
    np.testing.assert_array_equal(got, reference_bits(seed, counter))
    assert got.min() >= 0 and got.max() < P


def test_uniforms_are_exact_and_inside_the_open_interval():
    seed = tf.constant(np.arange(50)[:, None])
    counter = tf.constant(np.arange(2000, dtype=np.int64)[None, :])
    u = noise.uniform(seed, counter).numpy()
    bits = noise.uniform_bits(seed, counter).numpy()
    np.testing.assert_array_equal(u.astype(np.float64), (bits // 256 * 2 + 1) / 2.0**24)  # float32 holds it exactly
    assert 0 < u.min() and u.max() < 1


def test_normals_have_standard_moments_and_no_correlation():
    draws = noise.standard_normal(tf.range(200), 1024).numpy().astype(np.float64)
    n = draws.size
    assert abs(draws.mean()) < 4 / np.sqrt(n)
    assert abs(draws.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(np.mean(draws**3)) < 4 * np.sqrt(15 / n)  # skewness
    assert abs(np.mean(draws**4) - 3) < 4 * np.sqrt(96 / n)  # kurtosis
    for a, b in ((draws[:, :-1], draws[:, 1:]), (draws[:-1], draws[1:])):  # neighbours in a row, neighbouring seeds
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 4 / np.sqrt(a.size)
    other_stream = noise.standard_normal(tf.range(200), 1024, stream=1).numpy()
    assert abs(np.corrcoef(draws.ravel(), other_stream.ravel())[0, 1]) < 4 / np.sqrt(n)


def test_a_row_depends_on_its_seed_only():
    together = noise.standard_normal(tf.constant([3, 9, 3]), 64).numpy()
    np.testing.assert_array_equal(together[0], together[2])
    np.testing.assert_array_equal(together[1], noise.standard_normal(tf.constant([9]), 64).numpy()[0])
    assert not np.allclose(together[0], together[1])
