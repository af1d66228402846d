"""Protocols A and B keep the right latent and score the right heads (checked with a perfectly
disentangled stub model and a judge that reads the labels off the pixels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from s3vae_tf.evaluation.judge import align_sets
from s3vae_tf.evaluation.protocols import (
    LabelledClips,
    appearance_hits,
    encode_means,
    evaluate_protocols,
    judge_generations,
    set_sorted,
    swap_partners,
)
from tests.evaluation.helpers import DisentangledStub, ReadingJudge, labelled_stub_clips


@pytest.fixture
def clips():
    return LabelledClips.from_arrays(labelled_stub_clips(), pixel_scale=100.0)


def test_a_disentangled_model_scores_perfectly_on_the_kept_factor(clips):
    result = evaluate_protocols(DisentangledStub(), ReadingJudge(), clips, repeats=3, seed=0, batch_size=5)
    assert set(result["a"]) == {"move"} and set(result["b"]) == {"shape"}
    move = result["a"]["move"]
    assert move["acc"]["values"] == [1.0, 1.0, 1.0] and move["acc"]["std"] == 0.0
    assert move["is"]["mean"] == pytest.approx(3.0)  # confident and covering the 3 classes: IS = K
    assert move["h_yx"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert move["h_y"]["mean"] == pytest.approx(math.log(3))
    assert result["b"]["shape"]["acc"]["mean"] == 1.0 and result["b"]["shape"]["is"]["mean"] == pytest.approx(4.0)
    assert result["real"]["shape"]["acc"] == 1.0 and result["real"]["move"]["acc"] == 1.0
    assert result["reconstruction"]["shape"]["acc"] == 1.0 and result["reconstruction"]["move"]["acc"] == 1.0
    assert move["samples"] == len(clips) == 24


def test_the_other_factor_is_drawn_anew_per_repeat_and_reproducibly(clips):
    model, judge = DisentangledStub(), ReadingJudge()
    f_mean, z_mean = encode_means(model, clips, batch_size=7)
    first = judge_generations(model, judge, "a", f_mean, z_mean, seed=0, repeat=0, batch_size=5)
    again = judge_generations(model, judge, "a", f_mean, z_mean, seed=0, repeat=0, batch_size=24)
    other = judge_generations(model, judge, "a", f_mean, z_mean, seed=0, repeat=1, batch_size=5)
    np.testing.assert_array_equal(first["shape"], again["shape"])  # noise does not depend on the batch size
    assert not np.array_equal(first["shape"], other["shape"])  # protocol A draws z_f anew
    np.testing.assert_array_equal(first["move"], other["move"])  # ... and keeps z_1:T
    b0 = judge_generations(model, judge, "b", f_mean, z_mean, seed=0, repeat=0, batch_size=5)
    b1 = judge_generations(model, judge, "b", f_mean, z_mean, seed=0, repeat=1, batch_size=5)
    np.testing.assert_array_equal(b0["shape"], b1["shape"])  # protocol B keeps z_f
    assert not np.array_equal(b0["move"], b1["move"])  # ... and draws z_1:T anew
    # With z_f drawn from N(0, I) the judge's static reading is no longer the clip's label.
    assert np.mean(np.argmax(first["shape"], 1) == clips.static[:, 0]) < 0.9


def test_max_clips_limits_the_test_split():
    assert len(LabelledClips.from_arrays(labelled_stub_clips(), 100.0, limit=5)) == 5


class _MotionInAppearance(DisentangledStub):
    """A stub that draws the motion from z_f's clip: decode(z_f of b, z_t of a) moves like b."""

    def encode(self, frames):
        params = super().encode(frames)
        return {"f_mean": tf.concat([params["f_mean"], params["z_mean"][:, 0]], axis=-1), "z_mean": params["z_mean"]}

    def decode(self, z_f, z_t):
        z_f = tf.convert_to_tensor(z_f, tf.float32)
        moves = tf.broadcast_to(z_f[:, None, 1:2], tf.shape(z_t))
        return super().decode(z_f[:, :1], moves)


def test_confusion_is_diagonal_for_a_perfect_judge_and_a_disentangled_model(clips):
    result = evaluate_protocols(DisentangledStub(), ReadingJudge(), clips, repeats=2, seed=0, batch_size=5)
    for kind, total in (("real", len(clips)), ("a", 2 * len(clips))):
        counts = np.asarray(result["confusion"]["move"][kind])
        assert counts.shape == (3, 3) and counts.sum() == total
        assert np.count_nonzero(counts - np.diag(np.diag(counts))) == 0


def test_swap_accuracy_separates_disentangled_from_entangled(clips):
    good = evaluate_protocols(DisentangledStub(), ReadingJudge(), clips, repeats=1, seed=0, batch_size=5)["swap"]
    assert good["pairs"] == len(clips) and good["motion"] == good["appearance"] == good["both"] == 1.0
    bad = evaluate_protocols(_MotionInAppearance(), ReadingJudge(), clips, repeats=1, seed=0, batch_size=5)
    # Its pairs always differ in motion, and it moves like the appearance clip: no swap keeps a's motion.
    assert bad["swap"]["motion"] == 0.0 and bad["swap"]["appearance"] == 1.0
    off_diagonal = np.asarray(bad["confusion"]["move"]["a"])
    assert np.trace(off_diagonal) < off_diagonal.sum()  # protocol A's misses show up off the diagonal


def test_swap_partners_differ_in_character_and_motion():
    data = labelled_stub_clips()
    partners = swap_partners(data["static"], data["dynamic"], seed=3)
    assert np.all(partners >= 0)
    assert np.all(data["static"][partners, 0] != data["static"][:, 0])
    assert np.all(data["dynamic"][partners, 0, 0] != data["dynamic"][:, 0, 0])
    np.testing.assert_array_equal(partners, swap_partners(data["static"], data["dynamic"], seed=3))


_PAIR_HEADS = [{"name": "digit_1", "classes": 10, "factor": "static", "column": 0, "per_frame": False},
               {"name": "digit_2", "classes": 10, "factor": "static", "column": 1, "per_frame": False},
               {"name": "ink", "classes": 3, "factor": "static", "column": 2, "per_frame": False}]
_DIGITS = [["digit_1", "digit_2"]]


def _reading(classes, k: int) -> np.ndarray:
    return np.eye(k)[np.asarray(classes)] * 0.9 + 0.1 / k


def test_a_set_of_labels_is_read_in_either_order():
    labels = {"digit_1": np.array([3, 3, 3, 4]), "digit_2": np.array([7, 7, 7, 4]), "ink": np.array([0, 0, 1, 2])}
    read = {"digit_1": _reading([7, 3, 7, 4], 10), "digit_2": _reading([3, 7, 7, 4], 10), "ink": _reading([1, 0, 1, 2], 3)}
    aligned = align_sets(read, labels, _DIGITS)
    # row 0: the pair read swapped (right once aligned), row 1: in order, row 2: 7 twice (not the pair {3, 7}), row 3: (4, 4)
    np.testing.assert_array_equal(appearance_hits(_PAIR_HEADS[:2], aligned, labels), [True, True, False, True])
    np.testing.assert_array_equal(appearance_hits(_PAIR_HEADS[:2], read, labels), [False, True, False, True])  # unaligned
    np.testing.assert_array_equal(aligned["ink"], read["ink"])  # heads outside the set are left alone
    np.testing.assert_array_equal(appearance_hits(_PAIR_HEADS, aligned, labels), [False, True, False, True])
    np.testing.assert_array_equal(np.argmax(aligned["digit_1"], -1), [3, 3, 7, 4])
    # per frame: each frame is aligned on its own
    frames = {"digit_1": np.stack([_reading([1, 2], 10)]), "digit_2": np.stack([_reading([2, 1], 10)])}
    truth = {"digit_1": np.array([[2, 2]]), "digit_2": np.array([[1, 1]])}
    per_frame = align_sets(frames, truth, _DIGITS)
    np.testing.assert_array_equal(np.argmax(per_frame["digit_1"], -1), [[2, 2]])
    np.testing.assert_array_equal(np.argmax(per_frame["digit_2"], -1), [[1, 1]])


def test_swap_partners_of_a_set_label_differ_as_sets():
    static = np.array([[3, 7], [7, 3], [1, 2]])
    dynamic = np.array([[[0]], [[1]], [[2]]])
    partners = swap_partners(set_sorted(static, _PAIR_HEADS[:2], _DIGITS), dynamic, seed=0)
    # (3, 7) and (7, 3) are the same character: each one's only partner is (1, 2)
    assert partners[0] == 2 and partners[1] == 2
    np.testing.assert_array_equal(set_sorted(static, _PAIR_HEADS[:2], _DIGITS), [[3, 7], [3, 7], [1, 2]])


def test_protocol_b_reports_every_static_label_at_once(clips):
    result = evaluate_protocols(DisentangledStub(), ReadingJudge(), clips, repeats=2, seed=0, batch_size=5)
    assert result["b_all"]["acc"]["values"] == [1.0, 1.0]
