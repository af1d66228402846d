"""The paper's metrics on hand-computed cases: one-hot and uniform predictions, the ln K and K bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s3vae_tf.evaluation.metrics import (
    accuracy,
    balanced_subset,
    classification_metrics,
    conditional_entropy,
    inception_score,
    marginal_entropy,
    summarize,
)


@pytest.mark.parametrize("k", [2, 6, 9])
def test_confident_predictions_covering_every_class_reach_the_upper_bounds(k):
    probs = np.eye(k)[np.arange(4 * k) % k]
    assert inception_score(probs) == pytest.approx(k)
    assert conditional_entropy(probs) == pytest.approx(0.0, abs=1e-12)
    assert marginal_entropy(probs) == pytest.approx(math.log(k))


@pytest.mark.parametrize("k", [2, 9])
def test_uniform_predictions(k):
    probs = np.full((10, k), 1.0 / k)
    assert inception_score(probs) == pytest.approx(1.0)
    assert conditional_entropy(probs) == pytest.approx(math.log(k))
    assert marginal_entropy(probs) == pytest.approx(math.log(k))


def test_one_class_for_every_sample_is_the_lower_bound():
    probs = np.eye(5)[np.full(7, 3)]
    assert inception_score(probs) == pytest.approx(1.0)
    assert conditional_entropy(probs) == pytest.approx(0.0, abs=1e-12)
    assert marginal_entropy(probs) == pytest.approx(0.0, abs=1e-12)


def test_a_case_worked_by_hand():
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    # H(y|x) = (ln 2 + 0) / 2; p(y) = (0.75, 0.25);
    # KL_1 = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25), KL_2 = ln(1/0.75); IS = exp((KL_1 + KL_2) / 2).
    assert conditional_entropy(probs) == pytest.approx(math.log(2) / 2)
    assert marginal_entropy(probs) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    kl = [0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25), math.log(1 / 0.75)]
    assert inception_score(probs) == pytest.approx(math.exp(sum(kl) / 2))
    assert inception_score(probs) == pytest.approx(1.2408, abs=1e-4)
    assert accuracy(probs, [1, 0]) == 0.5  # argmax of a tie is the first class


def test_bounds_and_identity_on_random_predictions():
    rng = np.random.default_rng(0)
    for k in (2, 6, 9):
        probs = rng.dirichlet(np.full(k, 0.3), size=50)
        is_, h_yx, h_y = inception_score(probs), conditional_entropy(probs), marginal_entropy(probs)
        assert 1.0 <= is_ <= k
        assert 0.0 <= h_yx <= math.log(k) and 0.0 <= h_y <= math.log(k)
        assert h_yx <= h_y + 1e-12  # mutual information I(x; y) = H(y) - H(y|x) >= 0
        assert is_ == pytest.approx(math.exp(h_y - h_yx))


def test_balanced_subset_takes_the_rarest_class_count_of_every_class():
    labels = np.array([0] * 5 + [1] * 2 + [2] * 3)
    subset = balanced_subset(labels, seed=1)
    assert np.bincount(labels[subset]).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(subset, balanced_subset(labels, seed=1))
    assert len(set(subset.tolist())) == 6


def test_distribution_metrics_are_computed_on_the_balanced_subset():
    labels = np.array([0] * 8 + [1] * 2)
    probs = np.eye(2)[labels]  # a perfect judge on an unbalanced set
    metrics = classification_metrics(probs, labels)
    assert metrics["acc"] == 1.0 and metrics["balanced_samples"] == 4 and metrics["samples"] == 10
    assert metrics["h_y"] == pytest.approx(math.log(2)) and metrics["is"] == pytest.approx(2.0)
    assert marginal_entropy(probs) < math.log(2)  # what an unbalanced set would have reported


def test_summary_over_repeats_and_bad_shapes():
    summary = summarize([{"acc": 0.5, "is": 2.0, "h_yx": 0.1, "h_y": 1.0}, {"acc": 1.0, "is": 4.0, "h_yx": 0.3, "h_y": 1.0}])
    assert summary["acc"] == {"mean": 0.75, "std": 0.25, "values": [0.5, 1.0]}
    assert summary["is"]["mean"] == 3.0 and summary["h_y"]["std"] == 0.0
    with pytest.raises(ValueError, match="2 predictions but 3 labels"):
        accuracy(np.eye(2), [0, 1, 1])
    with pytest.raises(ValueError, match="shape"):
        inception_score(np.zeros((0, 3)))
