"""A generator without an encoder (MoCoGAN): protocol A with a conditioned category, what does not apply said so,
its category pictures, and the benchmark table's rows for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from s3vae_tf.evaluation.protocols import category_reading
from s3vae_tf.pictures.figures import GENERATOR_NAMES
from tests.conftest import TINY_MODEL


@pytest.fixture(scope="module")
def mocogan_run(sprite_data_dir, tmp_path_factory):
    from s3vae_tf.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from s3vae_tf.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "mocogan"
    config = RunConfig(variant="mocogan", model=ModelConfig(**TINY_MODEL), data=DataConfig(data_dir=str(sprite_data_dir)),
                       train=TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2, validation_steps=1, image_every=0, verbose=0,
                                         probe_every=0, learning_rate=2e-4, adam_beta_1=0.5))
    train(config, run_dir)
    return run_dir


def test_category_reading_per_frame_and_in_sets():
    head = {"name": "d1", "classes": 3, "per_frame": True}
    eye = np.eye(3)
    # two clips, two frames: d1 reads (0, 2) on frame 0, d2 reads (1, 0)
    probs = {"d1": np.stack([eye[[0, 1]], eye[[2, 2]]]), "d2": np.stack([eye[[1, 1]], eye[[0, 0]]])}
    np.testing.assert_array_equal(category_reading(probs, head, [], np.array([1, 0])), eye[[0, 2]])  # frame 0 of d1
    # in a set {d1, d2}: per clip, the head that reads the category best
    np.testing.assert_array_equal(category_reading(probs, head, [("d1", "d2")], np.array([1, 0])), eye[[1, 0]])
    clip_level = {"name": "action", "classes": 3, "per_frame": False}
    np.testing.assert_array_equal(category_reading({"action": eye[[2, 1]]}, clip_level, [], np.array([0, 0])), eye[[2, 1]])


def test_evaluate_scores_protocol_a_and_says_what_does_not_apply(mocogan_run, tiny_judge_path):
    from s3vae_tf.evaluation.evaluate import entry

    assert entry(["--run", str(mocogan_run), "--judge", str(tiny_judge_path), "--repeats", "2", "--batch-size", "16"]) == 0
    data = json.loads((mocogan_run / "evaluation.json").read_text())
    assert data["variant"] == "mocogan" and data["b"] == {} and data["swap"] is None and "reconstruction" not in data
    assert set(data["not_applicable"]) == {"reconstruction", "b", "swap"}
    action = data["a"]["action"]
    assert len(action["acc"]["values"]) == 2 and all(0.0 <= v <= 1.0 for v in action["acc"]["values"])
    assert 1.0 - 1e-9 <= action["is"]["mean"] <= 9.0 + 1e-9 and action["samples"] == data["test_clips"] == 36
    confusion = np.asarray(data["confusion"]["action"]["a"])
    # the conditioned categories are the test clips' actions: each row holds its class's clips, once per repeat
    labels = np.asarray(data["confusion"]["action"]["real"]).sum(axis=1)
    np.testing.assert_array_equal(confusion.sum(axis=1), 2 * labels)
    markdown = (mocogan_run / "evaluation.md").read_text()
    assert "Protocol A for a generator" in markdown and "reconstructions (this run)" not in markdown
    assert "Not applicable to mocogan: b (protocol B" in markdown


def test_the_generators_repeats_draw_new_content_only(mocogan_run, tiny_judge_path):
    from s3vae_tf.evaluation.judge import load_judge
    from s3vae_tf.evaluation.protocols import LabelledClips, generator_codes, judge_generator
    from s3vae_tf.evaluation.run_data import test_split
    from s3vae_tf.run_directory import load_trained

    config, spec, model, _ = load_trained(mocogan_run)
    clips = LabelledClips.from_arrays(test_split(config), spec.pixel_scale, 12)
    head = next(h for h in load_judge(tiny_judge_path)[0].heads if h["name"] == "action")
    category, motion = generator_codes(model, clips, head, seed=0)
    np.testing.assert_array_equal(category, clips.dynamic[:, 0, 0])
    again = generator_codes(model, clips, head, seed=0)[1]
    np.testing.assert_array_equal(motion, again)  # the motion noise is the same in every repeat

    class Identity:
        def probabilities(self, frames):
            return {"frames": frames}

    first = judge_generator(model, Identity(), category, motion, 0, 0, 8)["frames"]
    second = judge_generator(model, Identity(), category, motion, 0, 1, 8)["frames"]
    assert first.shape == (12, model.frames, 64, 64, 3) and not np.allclose(first, second)


def test_pictures_have_one_row_per_category(mocogan_run, tmp_path):
    from s3vae_tf.evaluation.swap import entry

    assert entry(["--run", str(mocogan_run), "--out-dir", str(tmp_path), "--samples", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.{e}" for n in GENERATOR_NAMES for e in ("png", "gif"))
    from s3vae_tf.pictures.figures import pictures
    from s3vae_tf.run_directory import load_trained

    model = load_trained(mocogan_run)[2]
    tables = pictures(model, np.zeros((2, model.frames, 64, 64, 3), np.float32), samples=2)
    assert len(tables["samples"]) == len(tables["fixed_motion"]) == model.categories
    assert all(len(row) == 2 for row in tables["samples"]) and all(len(row) == model.categories for row in tables["fixed_content"])


def test_the_benchmark_table_has_rows_for_the_comparison_models(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import evaluation as bench

    assert bench.ROWS["dsvae"] == ("dsvae", []) and bench.ROWS["mocogan"] == ("mocogan", [])
    assert bench.ROWS["dsvae-factorised"] == ("dsvae", ["--dsvae-posterior", "factorised"])
    summary = {m: {"mean": 0.5, "std": 0.0} for m in bench.METRICS}
    full = {"protocol_a": {"action": summary}, "protocol_b": {"skin": {"mean": 0.9}}, "headline": {m: 0.5 for m in bench.METRICS},
            "swap": {"motion": 0.5, "appearance": 0.5, "both": 0.25}, "steps": 10, "train_seconds": 60}
    moco = {"protocol_a": {"action": summary}, "protocol_b": {}, "headline": None, "swap": None, "steps": 10, "train_seconds": 60}
    text = bench.markdown({"dataset": "smmnist", "preset": "cpu", "judge": {}, "paper": {},
                           "variants": {"mocogan": moco, "full": {**full, "protocol_a": {"direction_1": summary}}}})
    mocogan_line = next(line for line in text.splitlines() if line.startswith("| mocogan"))
    assert mocogan_line.count("—") >= 6  # no headline (SMMNIST's is protocol B), no B, no swap
    assert bench.headline({"b": {}, "a": {"action": {}}}, "smmnist") is None


def test_the_benchmark_table_marks_the_heads_a_generator_is_not_scored_on():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import evaluation as bench

    def summary(acc):
        return {"acc": {"mean": acc, "std": 0.0}, **{m: {"mean": 0.5, "std": 0.0} for m in bench.METRICS if m != "acc"}}

    full = {"protocol_a": {"direction_1": summary(0.5), "direction_2": summary(0.25)}, "protocol_b": {"digit_1": {"mean": 0.9}},
            "headline": {m: 0.5 for m in bench.METRICS}, "swap": None, "steps": 10, "train_seconds": 60}
    moco = {"protocol_a": {"direction_1": summary(0.476)}, "protocol_b": {}, "headline": None, "swap": None,
            "steps": 10, "train_seconds": 60}
    lines = bench.markdown({"dataset": "smmnist", "preset": "cpu", "judge": {}, "paper": {},
                            "variants": {"full": full, "mocogan": moco}}).splitlines()
    assert "| 50.0 / 25.0% |" in next(line for line in lines if line.startswith("| full"))
    assert "| 47.6% / — |" in next(line for line in lines if line.startswith("| mocogan"))


def test_the_benchmark_tables_sprites_headline_keeps_its_stds():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import evaluation as bench

    action = {m: {"mean": 0.5, "std": 0.125} for m in bench.METRICS}
    row = {"protocol_a": {"action": action}, "protocol_b": {}, "headline": {**{m: 0.5 for m in bench.METRICS}, "acc_std": 0.125},
           "swap": None, "steps": 10, "train_seconds": 60}
    line = next(line for line in bench.markdown({"dataset": "sprite", "preset": "cpu", "judge": {}, "paper": {},
                                                 "variants": {"dsvae": row}}).splitlines() if line.startswith("| dsvae"))
    assert "| 50.00 ± 12.50% | 0.500 ± 0.125 | 0.500 ± 0.125 | 0.500 ± 0.125 |" in line
