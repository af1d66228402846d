"""Presets and saved configs: the paper preset stays the original code's, old configs keep their meaning."""

from __future__ import annotations

import json

import pytest

from s3vae_tf.config import RunConfig, TrainConfig, apply_preset
from s3vae_tf.errors import UsageError


def test_paper_preset_is_the_original_codes_settings():
    paper = apply_preset(RunConfig(), "paper")
    assert (paper.train.epochs, paper.train.batch_size, paper.train.learning_rate) == (300, 128, 2e-3)
    lc = paper.loss
    assert (lc.triplet_weight, lc.dfp_moving_weight, lc.dfp_direction_weight, lc.mi_weight) == (100.0, 0.1, 0.1, 0.01)
    assert lc.dfp_reduction == "mean" and not lc.triplet_normalize and lc.static_adversary_weight == 0.0


def test_cpu_preset_is_the_quick_model_with_working_self_supervision():
    cpu, quick = apply_preset(RunConfig(), "cpu"), apply_preset(RunConfig(), "quick")
    assert cpu.preset == "cpu" and cpu.model == quick.model
    assert (cpu.train.epochs, cpu.train.steps_per_epoch, cpu.train.batch_size) == (10, 100, 32)
    assert cpu.loss.dfp_reduction == "sum" and cpu.loss.dfp_moving_weight == cpu.loss.dfp_direction_weight == 10.0
    assert cpu.loss.triplet_normalize and cpu.train.probe_every == 100
    assert quick.loss.dfp_reduction == "sum"  # what the quick preset's published numbers were trained with


def test_a_config_saved_before_dfp_reduction_existed_still_sums(tmp_path):
    raw = json.loads(apply_preset(RunConfig(), "quick").to_json())
    del raw["loss"]["dfp_reduction"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert RunConfig.load(tmp_path / "config.json").loss.dfp_reduction == "sum"


def test_a_baseline_sv_config_saved_before_sv_scc_existed_resumes_without_it(tmp_path):
    """Such runs were trained without the same-character triplet: resuming them must not switch it on."""
    assert RunConfig().loss.sv_triplet_weight == 100.0
    raw = json.loads(apply_preset(RunConfig(variant="baseline-sv"), "cpu").to_json())
    del raw["loss"]["sv_triplet_weight"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert RunConfig.load(tmp_path / "config.json").loss.sv_triplet_weight == 0.0


@pytest.mark.parametrize("section, name, value, message", [
    ("loss", "dfp_reduction", "max", "--dfp-reduction"),
    ("model", "init", "he", "--init"),
    ("train", "probe_every", -1, "--probe-every"),
    ("model", "dsvae_posterior", "mean-field", "--dsvae-posterior"),
    ("train", "adam_beta_1", 1.0, "--adam-beta-1"),
])
def test_bad_new_settings_are_named(section, name, value, message):
    config = RunConfig()
    setattr(getattr(config, section), name, value)
    with pytest.raises(UsageError, match=message):
        config.validate()


def test_comparison_models_are_variants_with_their_papers_optimiser():
    for preset in ("paper", "quick", "cpu"):
        mocogan = apply_preset(RunConfig(variant="mocogan"), preset)
        assert (mocogan.train.learning_rate, mocogan.train.adam_beta_1, mocogan.train.adam_beta_2) == (2e-4, 0.5, 0.999)
        assert mocogan.model == apply_preset(RunConfig(), preset).model  # the same sizes as S3VAE's rows
        dsvae = apply_preset(RunConfig(variant="dsvae"), preset)
        assert dsvae.train == apply_preset(RunConfig(), preset).train and dsvae.model.dsvae_posterior == "full"
    with pytest.raises(UsageError, match="float16"):
        RunConfig(variant="mocogan", train=TrainConfig(mixed_precision="float16")).validate()


def test_a_config_saved_before_the_comparison_models_existed_loads_unchanged(tmp_path):
    """New settings default to what older runs trained with (Keras' Adam betas; S3VAE ignores the others)."""
    raw = json.loads(apply_preset(RunConfig(), "cpu").to_json())
    for section, name in (("model", "dsvae_posterior"), ("loss", "category_weight"), ("train", "adam_beta_1"), ("train", "adam_beta_2")):
        del raw[section][name]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    loaded = RunConfig.load(tmp_path / "config.json")
    assert loaded == apply_preset(RunConfig(), "cpu") and (loaded.train.adam_beta_1, loaded.train.adam_beta_2) == (0.9, 0.999)
