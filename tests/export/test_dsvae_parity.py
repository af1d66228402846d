"""A DSVAE run (full posterior: z_t read given z_f) exports through the same exporter, and every format computes what
the trained model computes: encode / decode / swap within the S3VAE parity tolerance on real clips, generate
agreeing across formats."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TINY_MODEL
from tests.export.runners import FORMATS, eager, max_abs, metadata, run
from tests.export.test_parity import TOLERANCE, generate_feeds


@pytest.fixture(scope="module")
def dsvae_run(sprite_data_dir, tmp_path_factory):
    from s3vae_tf.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from s3vae_tf.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "dsvae"
    config = RunConfig(
        variant="dsvae",
        model=ModelConfig(**TINY_MODEL, dsvae_posterior="full"),
        data=DataConfig(data_dir=str(sprite_data_dir)),
        train=TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2, validation_steps=1, image_every=0, verbose=0,
                          diagnostics_every=0, probe_every=0),
    )
    train(config, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def dsvae_export(dsvae_run, tmp_path_factory):
    from export.exporter import ExportRequest, export_run

    out = tmp_path_factory.mktemp("exports") / "dsvae"
    export_run(ExportRequest(run_dir=dsvae_run, out=out, samples=0), log=lambda message: None)
    return out


@pytest.fixture(scope="module")
def dsvae_model(dsvae_run):
    from s3vae_tf.run_directory import load_trained

    return load_trained(dsvae_run)[2]


def test_the_export_is_the_dsvae_run(dsvae_export, dsvae_model):
    meta = metadata(dsvae_export)
    assert meta["variant"] == "dsvae" and meta["model"]["dsvae_posterior"] == "full"
    assert meta["formats"] == list(FORMATS)
    assert dsvae_model.posterior.conditions_on_static


@pytest.mark.parametrize("fmt", FORMATS)
def test_deterministic_endpoints_match_eager_keras(dsvae_export, dsvae_model, real_clips, fmt):
    latents = dsvae_model.encode(real_clips[:3])
    feeds = {
        "encode": {"frames": real_clips[:3]},
        "decode": {"z_f": np.asarray(latents["f_mean"]), "z_t": np.asarray(latents["z_mean"])},
        "swap": {"clip_a": real_clips[:3], "clip_b": real_clips[3:6]},
    }
    for signature, inputs in feeds.items():
        reference = eager(dsvae_model, signature, inputs)
        assert all(np.ptp(v) > 1e-4 for v in reference.values()), signature  # not a comparison of constants
        assert max_abs(run(fmt, dsvae_export, signature, inputs), reference) < TOLERANCE, signature


def test_generate_agrees_across_formats(dsvae_export):
    meta = metadata(dsvae_export)
    feeds = generate_feeds(meta, np.arange(100, 108))
    outputs = {fmt: run(fmt, dsvae_export, "generate", feeds) for fmt in FORMATS}
    for fmt in ("onnx", "tflite"):
        assert max_abs(outputs[fmt], outputs["savedmodel"]) < TOLERANCE, fmt
    frames = outputs["savedmodel"]["frames"]
    assert not np.allclose(frames[0], frames[1])
