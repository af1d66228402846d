"""The training-time probe scores protocols A and B and swaps on a fixed subset."""

from __future__ import annotations

import numpy as np

from s3vae_tf.evaluation.probe import ProtocolProbe, probe_subset
from tests.evaluation.helpers import DisentangledStub, ReadingJudge, labelled_stub_clips
from tests.evaluation.test_protocols import _MotionInAppearance


def test_probe_scores_a_disentangled_stub_perfectly_and_is_repeatable():
    clips = probe_subset(labelled_stub_clips(), pixel_scale=100.0, count=16)
    assert len(clips) == 16
    probe = ProtocolProbe(ReadingJudge(), clips, seed=0, batch_size=5)
    assert probe.names() == ["a_move", "b_shape", "swap_motion", "swap_appearance", "swap"]
    first = probe(DisentangledStub())
    assert first == {"a_move": 1.0, "b_shape": 1.0, "swap_motion": 1.0, "swap_appearance": 1.0, "swap": 1.0}
    assert probe(DisentangledStub()) == first


def test_probe_sees_motion_taken_from_the_appearance_clip():
    probe = ProtocolProbe(ReadingJudge(), probe_subset(labelled_stub_clips(), 100.0, 24), seed=0, batch_size=8)
    result = probe(_MotionInAppearance())
    assert result["swap_motion"] == 0.0 and result["swap"] == 0.0 and result["a_move"] < 1.0
    assert np.isclose(result["swap_appearance"], 1.0)
