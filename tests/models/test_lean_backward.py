"""``lean_backward``: the same values and gradients as the plain layers, with less memory held for backprop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from s3vae_tf.models.encoder import FrameEncoder

REPO = Path(__file__).resolve().parents[2]


def _value_and_grads(encoder, forward, frames, upstream):
    with tf.GradientTape() as tape:
        tape.watch(frames)
        features = forward(frames)
    variables = encoder.trainable_variables
    grads = tape.gradient(features, [frames, *variables], output_gradients=upstream)
    return features, grads


def test_same_values_gradients_and_moving_statistics_as_the_plain_stack():
    rng = np.random.default_rng(0)
    frames = tf.constant(rng.random((6, 64, 64, 3)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(6, 16)).astype("float32"))
    lean, plain = FrameEncoder(filters=8, out_dim=16), FrameEncoder(filters=8, out_dim=16, lean_backward=False)
    for encoder in (lean, plain):
        encoder.build(frames.shape)
    plain.set_weights(lean.get_weights())

    lean_out = tf.function(lambda x: _value_and_grads(lean, lambda v: lean(v, training=True), x, upstream))(frames)
    plain_out = tf.function(lambda x: _value_and_grads(plain, lambda v: plain(v, training=True), x, upstream))(frames)

    np.testing.assert_allclose(lean_out[0], plain_out[0], rtol=1e-5, atol=1e-6)
    for ours, reference, variable in zip(lean_out[1], plain_out[1], ["frames", *[v.path for v in lean.trainable_variables]]):
        scale = float(tf.reduce_max(tf.abs(reference)))
        np.testing.assert_allclose(ours, reference, atol=1e-5 * max(scale, 1e-3), err_msg=variable)
    # every BatchNorm's moving statistics moved once, as in the plain stack
    for ours, reference in zip(lean.non_trainable_variables, plain.non_trainable_variables):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6, err_msg=ours.path)
    assert not np.allclose(lean.non_trainable_variables[0].numpy(), 0.0)


PEAK = """
import sys
import tensorflow as tf
from s3vae_tf.models.decoder import FrameDecoder
from s3vae_tf.models.encoder import FrameEncoder
from s3vae_tf.models.lean_backward import lean_forward

# An autoencoder, as in S3VAE: the peak comes in the decoder's backward pass, while everything the
# encoder keeps for its own backward pass is still held.
lean = sys.argv[1] != "off"
encoder, decoder = FrameEncoder(16, 32, lean_backward=lean), FrameDecoder(16, lean_backward=lean)
frames = tf.random.uniform((64, 64, 64, 3), seed=0)
encoder.build(frames.shape)
decoder.build((None, 32))
# "stack": the activations read their outputs, but the encoder runs layer by layer without recomputing
encode = (lambda x: lean_forward(encoder.net.layers, x, recompute=False)) if sys.argv[1] == "stack" else (lambda x: encoder(x, training=True))

@tf.function
def step():
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(decoder(encode(frames), training=True) - frames))
    variables = encoder.trainable_variables + decoder.trainable_variables
    return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, variables)])

step()
tf.config.experimental.reset_memory_stats("CPU:0")
step()
print(tf.config.experimental.get_memory_info("CPU:0")["peak"])
"""


def _peak_bytes(path: str) -> int:
    env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": "true", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", PEAK, path], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return int(proc.stdout.strip().splitlines()[-1])


def test_backward_holds_less_memory():
    lean, stack, off = _peak_bytes("lean"), _peak_bytes("stack"), _peak_bytes("off")
    # one net's activation (or BatchNorm) outputs: 64 frames x (16x32x32 + 32x16x16 + 64x8x8 + 128x4x4) floats
    per_net = 64 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8 + 128 * 4 * 4) * 4
    # activation gradients from outputs: the BatchNorm outputs of both nets are not kept
    assert off - stack > per_net, (off, stack, per_net)
    # recomputing in the encoder frees its activation outputs; fails if grappler merges the recomputation
    # back into the forward pass (common subexpression elimination), which keeps them alive
    assert stack - lean > 0.5 * per_net, (stack, lean, per_net)
