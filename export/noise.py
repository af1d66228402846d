"""Seeded standard-normal noise from stock integer ops, identical in TensorFlow, ONNX and TFLite.

Exported sampling must take its seed as an input and give the same clip for the same seed on every
call. Stock random ops cannot: ONNX ``RandomNormal`` and TFLite ``RANDOM_STANDARD_NORMAL`` take their
seed as a fixed attribute and advance an internal state between calls, and TF's stateless ops
(``StatelessRandomNormalV2``) have no ONNX or TFLite builtin counterpart. So the noise is a
counter-based generator written with ops every format has (int64 Mul/Add/FloorMod, Cast, Log, Sqrt,
Cos): value k of seed s is a pure function of (s, k).

The hash is "squares" (Widynski 2020) recast in exact modular arithmetic: four rounds of
``x <- rot((x * x + key) mod P)`` with P = 2^31 - 1, where ``rot`` swaps the low 16 and the high 15 bits.
Every intermediate stays below 2^62, so no format ever overflows and the integer part is bit-identical
everywhere. ``rot`` needs the high bits without an integer division (TFLite has no int64 FloorDiv):
``x - x mod 2^16`` is ``hi * 2^16``, and multiplying by 16384 (the inverse of 2^16 modulo 32769) then
reducing modulo 32769 returns ``hi`` exactly. The top 23 bits give a uniform in (0, 1) that float32
holds exactly, and Box-Muller turns pairs of uniforms into normals (|n| <= 5.8).
"""

from __future__ import annotations

import tensorflow as tf

MODULUS = 2**31 - 1  # seeds are taken modulo this prime; valid seeds are 0 .. MODULUS - 1
STREAM_STRIDE = 2**20  # counters per stream: a stream holds up to 2^19 normals
_INV_2_16 = 16384  # (2^16)^-1 mod 32769
_TWO_PI = 6.283185307179586


def _rot(x: tf.Tensor) -> tf.Tensor:
    """Swap the low 16 and high 15 bits of 31-bit values (exact; no integer division)."""
    low = tf.math.floormod(x, 65536)
    high = tf.math.floormod((x - low) * _INV_2_16, 32769)
    return low * 32768 + high


def uniform_bits(seed: tf.Tensor, counter: tf.Tensor) -> tf.Tensor:
    """31-bit hash of (seed, counter), int64 in [0, 2^31 - 2]; ``seed`` (B, 1) and ``counter`` (1, N) broadcast."""
    key = tf.math.floormod(tf.cast(seed, tf.int64), MODULUS)
    k1 = tf.math.floormod(tf.math.floormod(key * 1103515245, MODULUS) + 12345, MODULUS)
    y = tf.math.floormod(tf.math.floormod((counter + 1) * 48271, MODULUS) + k1, MODULUS)
    y = tf.math.floormod(y * 69621 + key, MODULUS)
    z = tf.math.floormod(y + 1013904223, MODULUS)
    x = y
    for add in (y, z, y, z):
        x = _rot(tf.math.floormod(x * x + add, MODULUS))
    return x


def uniform(seed: tf.Tensor, counter: tf.Tensor) -> tf.Tensor:
    """Uniform float32 in (0, 1): the top 23 bits of the hash plus half a step (exact in float32)."""
    bits = uniform_bits(seed, counter)
    # 2^-31 as two exact steps: a float16 export (TFLite fp16) stores constants as float16, where 2^-31
    # underflows to 0 but 2^-16, 2^-15 and 2^-24 are exact; in float32 the product is the same number
    return tf.cast(bits - tf.math.floormod(bits, 256), tf.float32) * 2.0**-16 * 2.0**-15 + 2.0**-24


def standard_normal(seed: tf.Tensor, count: int, stream: int = 0) -> tf.Tensor:
    """(B,) int seeds -> (B, count) float32 N(0, 1) draws; row b depends on seed[b] and ``stream`` only."""
    if not 0 < count <= STREAM_STRIDE // 2:
        raise ValueError(f"count must be in 1..{STREAM_STRIDE // 2}, got {count}")
    index = tf.range(count, dtype=tf.int64)[None, :] * 2 + stream * STREAM_STRIDE
    seed = tf.reshape(seed, (-1, 1))
    u1, u2 = uniform(seed, index), uniform(seed, index + 1)
    return tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(_TWO_PI * u2)
