"""The judge: heads from the dataset spec, training CLI, atomic save / load, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s3vae_tf.data import registry
from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.judge import (
    ClipAugmentation,
    as_samples,
    build_judge,
    check_matches,
    default_path,
    head_labels,
    label_heads,
    load_judge,
    predict,
    real_accuracy,
)
from s3vae_tf.evaluation.judge_training import JudgeSettings, train_judge
from s3vae_tf.judge import entry
from tests.evaluation.conftest import tiny_judge_flags
from tests.evaluation.helpers import TINY_JUDGE


def test_heads_follow_the_spec_and_detect_per_frame_labels():
    spec = registry.get("sprite")
    constant = np.repeat(np.arange(3)[:, None, None], 8, axis=1)
    heads = label_heads(spec, constant)
    assert [(h["name"], h["classes"], h["factor"], h["per_frame"]) for h in heads] == [
        ("skin", 6, "static", False), ("pants", 6, "static", False), ("top", 6, "static", False), ("hair", 6, "static", False),
        ("action", 9, "dynamic", False),
    ]
    varying = constant.copy()
    varying[0, 3] = 5
    assert label_heads(spec, varying)[-1]["per_frame"] is True
    static = np.arange(12).reshape(3, 4)
    labels = head_labels(label_heads(spec, varying), static, varying)
    assert labels["top"].tolist() == [2, 6, 10] and labels["action"].shape == (3, 8)
    probs, flat = as_samples(np.zeros((3, 8, 9)), labels["action"])
    assert probs.shape == (24, 9) and flat.shape == (24,)
    judge = build_judge(spec, label_heads(spec, varying), **TINY_JUDGE)
    out = predict(judge, np.random.default_rng(0).random((3, 8, 64, 64, 3)), batch_size=2)
    assert out["action"].shape == (3, 8, 9) and out["hair"].shape == (3, 6)
    np.testing.assert_allclose(out["action"].sum(-1), 1.0, rtol=1e-5)


def test_cli_trains_saves_atomically_and_reports_per_head(tiny_judge_path, capsys):
    files = sorted(p.name for p in tiny_judge_path.parent.iterdir())
    assert files == ["sprite.json", "sprite.keras"]  # no staging leftovers
    report = json.loads(tiny_judge_path.with_suffix(".json").read_text())
    assert set(report["test_accuracy"]) == {"skin", "pants", "top", "hair", "action"}
    assert all(0.0 <= a <= 1.0 for a in report["test_accuracy"].values())
    assert report["dataset"] == "sprite" and report["test_clips"] == 36 and report["train_seconds"] >= 0
    judge, loaded = load_judge(tiny_judge_path)
    assert loaded == report
    check_matches(judge, registry.get("sprite"))


def test_a_judge_learns_the_labels_and_loads_back_identical(sprite_data_dir, tmp_path):
    from s3vae_tf.config import DataConfig
    from s3vae_tf.evaluation.judge import save_judge

    spec = registry.get("sprite")
    splits = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))
    settings = JudgeSettings(epochs=1, steps_per_epoch=40, batch_size=16, learning_rate=3e-3, **TINY_JUDGE)
    judge, report = train_judge(spec, splits, settings, verbose=0)
    train_accuracy = real_accuracy(judge, splits["train"], spec.pixel_scale)
    # A few steps of a tiny judge learn the colours (chance: 1/6); the motion takes longer.
    assert min(train_accuracy[h] for h in ("skin", "pants", "top", "hair")) > 0.5, train_accuracy
    assert report["meets_required_accuracy"] is (min(report["test_accuracy"].values()) >= 0.99)
    save_judge(judge, report, tmp_path / "judge.keras")
    loaded, _ = load_judge(tmp_path / "judge.keras")
    clips = splits["test"]["frames"][:4]
    before, after = predict(judge, clips, pixel_scale=spec.pixel_scale), predict(loaded, clips, pixel_scale=spec.pixel_scale)
    for name in before:  # every weight (also the heads held in a list) comes back
        np.testing.assert_allclose(after[name], before[name], atol=1e-6, err_msg=name)
    assert real_accuracy(loaded, splits["test"], spec.pixel_scale) == report["test_accuracy"]


def test_saved_judge_is_found_where_evaluate_looks(tiny_judge_path, sprite_data_dir):
    assert default_path(sprite_data_dir, "sprite") == sprite_data_dir / "judges" / "sprite.keras"
    judge, report = load_judge(tiny_judge_path)
    assert [h["name"] for h in judge.heads] == list(report["test_accuracy"])


def _one_line_error(capsys, argv) -> str:
    code = entry(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    return err[0]


def test_bad_input_is_one_line(capsys, tmp_path, sprite_data_dir):
    assert "unknown dataset 'nope'" in _one_line_error(capsys, ["--dataset", "nope"])
    assert "must end in .keras" in _one_line_error(capsys, tiny_judge_flags(sprite_data_dir, tmp_path / "judge.h5"))
    assert "--epochs must be at least 1" in _one_line_error(capsys, tiny_judge_flags(sprite_data_dir, tmp_path / "j.keras", epochs=0))
    assert "larger than the 72 training clips" in _one_line_error(
        capsys, tiny_judge_flags(sprite_data_dir, tmp_path / "j.keras", **{"batch-size": 100})
    )
    assert "invalid int value" in _one_line_error(capsys, ["--epochs", "x"])
    with pytest.raises(UsageError, match="no judge at .*python -m s3vae_tf.judge"):
        load_judge(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="cannot read judge"):
        load_judge(broken)


def test_a_judge_of_other_heads_is_refused(tiny_judge_path):
    from dataclasses import replace

    judge, _ = load_judge(tiny_judge_path)
    other = replace(registry.get("sprite"), name="other", static_heads=(("digit", 10),))
    with pytest.raises(UsageError, match="trained for dataset 'sprite'"):
        check_matches(judge, other)


def test_a_set_of_heads_is_trained_on_its_best_assignment_and_saved_with_its_settings(tmp_path):
    from s3vae_tf.evaluation.judge import save_judge

    spec = registry.get("smmnist")
    rng = np.random.default_rng(0)
    static = np.array([[3, 7], [1, 1]], np.int32)
    dynamic = rng.integers(0, 8, (2, 15, 2)).astype(np.int32)
    heads = label_heads(spec, dynamic)
    judge = build_judge(spec, heads, **TINY_JUDGE)
    assert judge.label_sets == [["digit_1", "digit_2"], ["direction_1", "direction_2"]] and judge.frame_pairs
    frames = rng.random((2, 15, 64, 64, 1)).astype(np.float32)

    def loss(s, d):
        return float(judge._step({"frames": frames, "static_labels": s, "dynamic_labels": d}, training=False))

    swapped_static, swapped_dynamic = static[:, ::-1].copy(), dynamic.copy()
    swapped_dynamic[:, 5:] = dynamic[:, 5:, ::-1]  # the order may change from frame to frame
    assert loss(swapped_static, swapped_dynamic) == pytest.approx(loss(static, dynamic), rel=1e-6)
    assert loss(np.array([[3, 8], [1, 1]], np.int32), dynamic) != pytest.approx(loss(static, dynamic), rel=1e-6)
    save_judge(judge, {"dataset": "smmnist"}, tmp_path / "judge.keras")
    loaded, _ = load_judge(tmp_path / "judge.keras")
    assert loaded.label_sets == judge.label_sets and loaded.frame_pairs
    np.testing.assert_allclose(predict(loaded, frames)["direction_2"], predict(judge, frames)["direction_2"], rtol=1e-5, atol=1e-6)
    # Sprites has no sets and no per-frame head: its judge is the plain one
    sprite = build_judge(registry.get("sprite"), label_heads(registry.get("sprite"), np.zeros((1, 8, 1))), **TINY_JUDGE)
    assert sprite.label_sets == [] and not sprite.frame_pairs


def test_augmentation_blurs_and_pales_clips_in_training_only():
    rng = np.random.default_rng(1)
    frames = np.zeros((6, 3, 64, 64, 1), np.float32)
    frames[:, :, 30:34, 30:34] = 1.0  # a bright square on black
    frames[:, :, :, :, :] += rng.random((6, 1, 1, 1, 1)).astype(np.float32) * 0.1  # per-clip background
    augment = ClipAugmentation(blur=3.0, contrast=0.5, seed=0)
    np.testing.assert_array_equal(np.asarray(augment(frames, training=False)), frames)
    out = np.asarray(augment(frames, training=True))
    assert out.shape == frames.shape
    # the contrast is scaled about each clip's mean, so the means stay where they were
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3, 4)), frames.mean(axis=(1, 2, 3, 4)), atol=1e-4)
    spread = out.std(axis=(1, 2, 3, 4)) / frames.std(axis=(1, 2, 3, 4))
    assert np.all(spread <= 1 + 1e-5) and spread.min() < 0.9  # never sharper; some clips clearly softer
    # a blur only spreads the square: its peak falls and its neighbourhood lights up, its mass is kept
    blurred = np.asarray(ClipAugmentation._blurred(frames[:1], 2.0))
    assert blurred[0, 0, 31, 31, 0] < frames[0, 0, 31, 31, 0] and blurred[0, 0, 28, 28, 0] > frames[0, 0, 28, 28, 0]
    np.testing.assert_allclose(blurred.sum(), frames[:1].sum(), rtol=1e-4)


def test_a_judge_saves_its_augmentation_and_one_without_has_none(tmp_path):
    from s3vae_tf.evaluation.judge import save_judge

    spec = registry.get("sprite")
    heads = label_heads(spec, np.zeros((1, 8, 1)))
    plain = build_judge(spec, heads, **TINY_JUDGE)
    assert plain.augmentation is None and plain.get_config()["blur"] == 0.0
    judge = build_judge(spec, heads, **TINY_JUDGE, blur=1.5, contrast=0.3)
    save_judge(judge, {"dataset": "sprite"}, tmp_path / "judge.keras")
    loaded, _ = load_judge(tmp_path / "judge.keras")
    assert (loaded.augmentation.blur, loaded.augmentation.contrast) == (1.5, 0.3)
    frames = np.random.default_rng(0).random((2, 8, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(predict(loaded, frames)["action"], predict(judge, frames)["action"], rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError, match="--contrast"):
        JudgeSettings(contrast=1.0).validate()
