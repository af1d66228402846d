"""Parity of swap at the paper's model size (64-filter DCGAN, 256-unit LSTMs, f 256, z 32) on real clips.

Freshly initialised weights (no training): parity is a property of the conversion. A few training-mode
passes give BatchNorm realistic statistics, and a larger last decoder layer spreads the outputs over
[0, 1] (at initialisation they all sit near 0.5, where a wrong conversion could hide).
"""

from __future__ import annotations

import numpy as np

from export import onnx_export, tflite_export
from export.signatures import ExportModule
from tests.conftest import SPRITE_LABELS
from tests.export.runners import max_abs


def test_swap_parity_at_paper_size(tmp_path, real_clips):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    from s3vae_tf.models.s3vae import S3VAE

    trained = S3VAE(labels=SPRITE_LABELS, name="s3vae")  # recurrent layers as in training
    trained.build()
    for _ in range(3):
        trained(real_clips, training=True)
    last = trained.decoder.net.get_layer("deconv5").kernel
    last.assign(last * 100.0)
    unrolled = S3VAE(model={"unroll": True}, labels=SPRITE_LABELS, name="s3vae")
    unrolled.build()
    unrolled.set_weights(trained.get_weights())
    function = ExportModule(unrolled, pixel_scale=256.0).function("swap")
    feeds = {"clip_a": real_clips[:2], "clip_b": real_clips[2:4]}
    a_with_b, b_with_a = trained.swap(feeds["clip_a"], feeds["clip_b"])
    reference = {"a_with_b_appearance": np.asarray(a_with_b), "b_with_a_appearance": np.asarray(b_with_a)}
    assert np.ptp(reference["a_with_b_appearance"]) > 0.3

    onnx_export.convert(function, "swap", tmp_path / "swap.onnx")
    session = ort.InferenceSession(str(tmp_path / "swap.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    tflite_export.convert(function, "swap", tmp_path / "swap.tflite", tmp_path / "work")
    tflite_out = Interpreter(model_path=str(tmp_path / "swap.tflite")).get_signature_runner("swap")(**feeds)
    assert max_abs(onnx_out, reference) < 1e-4
    assert max_abs(tflite_out, reference) < 1e-4
