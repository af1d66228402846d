from __future__ import annotations

import numpy as np

from s3vae_tf.losses.dynamic_factor import flow_grid_loss, landmark_loss
from s3vae_tf.losses.supervised import classification_loss


def test_direction_counts_only_on_moving_cells():
    moving = np.array([[[1, 0]]], np.uint8)  # (B=1, P=1, K=2)
    direction = np.array([[[3, 5]]], np.uint8)
    logits = np.zeros((1, 1, 2, 8), np.float32)
    _, ce = flow_grid_loss(np.zeros((1, 1, 2), np.float32), logits, moving, direction)
    np.testing.assert_allclose(ce.numpy(), [np.log(8)], rtol=1e-6)  # one moving cell, uniform over 8 bins


def test_confident_right_predictions_cost_almost_nothing():
    moving = np.array([[[1, 0, 1]]], np.uint8)
    direction = np.array([[[2, 7, 6]]], np.uint8)
    moving_logits = np.where(moving == 1, 20.0, -20.0).astype(np.float32)
    direction_logits = np.eye(8, dtype=np.float32)[direction] * 40.0
    bce, ce = flow_grid_loss(moving_logits, direction_logits, moving, direction)
    assert float(bce[0]) < 1e-6 and float(ce[0]) < 1e-6


def test_landmarks_and_classification():
    assert float(landmark_loss(np.ones((1, 2, 3), np.float32), np.zeros((1, 2, 3)))[0]) == 6.0
    logits = {"a": np.array([[0.0, 0.0]], np.float32), "b": np.array([[0.0, 0.0, 0.0]], np.float32)}
    np.testing.assert_allclose(classification_loss(logits, np.array([[1, 2]])).numpy(), [np.log(2) + np.log(3)], rtol=1e-6)
