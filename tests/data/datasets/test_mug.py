"""MUG: the loader on a MUG-shaped tree of real faces whose mouth opens over each take."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from s3vae_tf.config import DataConfig
from s3vae_tf.data import registry
from s3vae_tf.data.datasets import mug
from s3vae_tf.data.prepare import entry
from s3vae_tf.errors import DataError, UsageError
from tests.data.faces import TREE, build_mug_tree, landmark_model
from tests.data.helpers import train_tiny


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    pytest.importorskip("mediapipe")
    from s3vae_tf.data.labels.landmarks import FaceLandmarks

    with FaceLandmarks(landmark_model()) as faces:
        return build_mug_tree(tmp_path_factory.mktemp("mug"), faces)


@pytest.fixture(scope="module")
def prepared(tree, tmp_path_factory):
    """The tree prepared by the documented command; (config, its stdout + stderr, the loaded splits)."""
    data_dir = tmp_path_factory.mktemp("data")
    flags = ["--dataset", "mug", "--data-dir", str(data_dir), "--mug-dir", str(tree.parent)]
    flags += ["--landmark-model", str(landmark_model())]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = entry(flags)
    assert code == 0, out.getvalue()
    config = DataConfig(data_dir=str(data_dir), mug_dir=str(tree.parent), landmark_model=str(landmark_model()))
    return config, out.getvalue(), registry.load("mug", config)


def _expected_takes(include_neutral: bool) -> set:
    return {
        (subject, session, expression, take, count)
        for subject, (_, takes) in TREE.items()
        for session, expression, take, count in takes
        if include_neutral or expression != "neutral"
    }


def test_finds_every_take(tree):
    found = {(t.subject, t.session, t.expression, t.path.name, len(t.images)) for t in mug.find_takes(tree)}
    assert found == _expected_takes(include_neutral=False)
    with_neutral = {(t.subject, t.session, t.expression, t.path.name, len(t.images)) for t in mug.find_takes(tree, True)}
    assert with_neutral == _expected_takes(include_neutral=True)
    take = mug.find_takes(tree)[0]
    assert [p.name for p in take.images[:3]] == ["img_0000.jpg", "img_0001.jpg", "img_0002.jpg"]


def test_labels_and_splits(tree, prepared):
    _, output, splits = prepared
    assert "skipped 1 takes shorter than 29 frames and 0 without a face" in output
    usable = [t for t in mug.find_takes(tree) if len(t.images) >= 29]
    subjects = sorted({t.subject for t in usable})
    for split, indices in mug.split_takes(len(usable)).items():
        arrays = splits[split]
        n = len(indices)
        assert arrays["frames"].shape == (n, 15, 64, 64, 3) and arrays["frames"].dtype == np.uint8
        assert arrays["landmarks"].shape == (n, 15, 3) and arrays["landmarks"].dtype == np.float32
        for row, i in enumerate(indices):
            take = usable[i]
            assert arrays["static"][row, 0] == subjects.index(take.subject)
            assert np.all(arrays["dynamic"][row, :, 0] == mug.EXPRESSIONS.index(take.expression))
    assert len(splits["train"]["frames"]) == 3 and len(splits["test"]["frames"]) == 1
    # the crops show the subject's face: clips of one subject start alike, the two subjects do not
    frames = np.concatenate([splits["train"]["frames"], splits["test"]["frames"]])[:, 0].astype(np.float32)
    who = np.concatenate([splits["train"]["static"], splits["test"]["static"]])[:, 0]
    for a in range(len(frames)):
        for b in range(a + 1, len(frames)):
            gap = np.abs(frames[a] - frames[b]).mean()
            assert (gap < 8) if who[a] == who[b] else (gap > 25), (a, b, gap)


def test_lip_distance_grows_as_the_mouth_opens(prepared):
    _, _, splits = prepared
    for split in ("train", "test"):
        for clip in splits[split]["landmarks"]:
            lips, eyes = clip[:, 2], clip[:, :2]
            assert np.corrcoef(np.arange(15), lips)[0, 1] > 0.95, lips
            assert lips[-1] - lips[0] > 0.08
            assert np.ptp(eyes, axis=0).max() < 0.03


def test_missing_database_points_to_the_site(tmp_path, monkeypatch):
    monkeypatch.delenv("S3VAE_MUG_DIR", raising=False)
    for config in (DataConfig(), DataConfig(mug_dir=str(tmp_path / "nope"))):
        with pytest.raises(DataError) as info:
            mug.resolve_mug_dir(config, tmp_path)
        assert mug.SITE in str(info.value) and "--mug-dir" in str(info.value)
    (tmp_path / "subjects3" / "001" / "anger" / "take000").mkdir(parents=True)
    with pytest.raises(DataError, match="no usable MUG takes"):
        mug.build_splits(DataConfig(mug_dir=str(tmp_path)), tmp_path / "data")
    with pytest.raises(UsageError, match="for generated datasets"):
        mug.prepare(DataConfig(mug_dir=str(tmp_path), train_clips=10), tmp_path / "data")


def test_trains_with_the_landmark_head(prepared, tmp_path):
    config, _, _ = prepared
    row = train_tiny("mug", config, tmp_path / "run", batch_size=2, steps=1)
    assert row["dfp_landmarks"] > 0 and "dfp_moving" not in row


def test_explicit_paths_are_checked_with_a_warm_cache(prepared, tmp_path, capsys):
    """The prepared cache is reused for the same sources; a missing --mug-dir or --landmark-model is still an error."""
    import dataclasses

    config, _, _ = prepared
    capsys.readouterr()
    registry.load("mug", config)
    assert "preparing" not in capsys.readouterr().out, "same sources: the cache is used"
    for change, message in (
        ({"mug_dir": str(tmp_path / "nope")}, "MUG database directory .* does not exist"),
        ({"landmark_model": str(tmp_path / "nope.task")}, "face landmark model .* does not exist"),
    ):
        with pytest.raises(DataError, match=message):
            registry.load("mug", dataclasses.replace(config, **change))
