"""Face landmark distances on real faces (MediaPipe FaceLandmarker), and where the model file comes from."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from s3vae_tf.data.labels import landmarks
from s3vae_tf.errors import DataError
from tests.data.faces import framed, landmark_model, open_mouth, still


@pytest.fixture(scope="module")
def faces():
    pytest.importorskip("mediapipe")
    with landmarks.FaceLandmarks(landmark_model()) as f:
        yield f


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_lip_distance_grows_as_the_mouth_opens(faces, name):
    image, points = framed(still(name), faces)
    width = landmarks.face_size(points)
    measured = []
    for opening in (0.0, 0.04, 0.08, 0.12, 0.16):
        found = faces.points(open_mouth(image, points, opening * width))
        assert found is not None and found.shape == (478, 2)
        measured.append(landmarks.distances(found))
    measured = np.array(measured)
    lips, eyes = measured[:, 2], measured[:, :2]
    assert np.all(np.diff(lips) > 0), lips
    assert lips[-1] - lips[0] > 0.08  # normalised: opening by 16 % of the face width adds at least 8 %
    assert np.ptp(eyes, axis=0).max() < 0.02, eyes  # the eyes do not move
    assert np.all((eyes > 0.03) & (eyes < 0.15))  # open eyes: a few percent of the face width


def test_distances_do_not_depend_on_image_size(faces):
    image, _ = framed(still("astronaut"), faces)
    big = landmarks.distances(faces.points(image))
    small = landmarks.distances(faces.points(np.ascontiguousarray(image[::2, ::2])))
    np.testing.assert_allclose(small, big, atol=0.015)


def test_no_face_gives_none_and_gaps_are_filled(faces):
    assert faces.points(np.full((128, 128, 3), 90, np.uint8)) is None
    values = np.array([[np.nan] * 3, [1.0, 2.0, 3.0], [np.nan] * 3, [3.0, 4.0, 5.0]], np.float32)
    np.testing.assert_allclose(landmarks.fill_gaps(values), [[1, 2, 3], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
    assert landmarks.fill_gaps(np.full((3, 3), np.nan)) is None


def test_model_from_flag_env_cache_or_download(tmp_path, monkeypatch):
    monkeypatch.delenv("S3VAE_LANDMARK_MODEL", raising=False)
    real = landmark_model()
    assert landmarks.resolve_model(str(real), tmp_path) == real
    with pytest.raises(DataError, match="does not exist .*--landmark-model"):
        landmarks.resolve_model(str(tmp_path / "missing.task"), tmp_path)
    monkeypatch.setenv("S3VAE_LANDMARK_MODEL", str(real))
    assert landmarks.resolve_model("", tmp_path) == real
    monkeypatch.delenv("S3VAE_LANDMARK_MODEL")
    # a cached copy with the right checksum is used as it is
    cached = tmp_path / "models" / landmarks.MODEL_NAME
    cached.parent.mkdir()
    shutil.copyfile(real, cached)
    assert landmarks.resolve_model("", tmp_path) == cached
    # a damaged copy is fetched again; offline that is one clear line, and no partial file stays
    cached.write_bytes(b"damaged")
    monkeypatch.setattr(landmarks, "MODEL_URL", "http://127.0.0.1:9/face_landmarker.task")
    with pytest.raises(DataError) as info:
        landmarks.resolve_model("", tmp_path)
    assert "cannot download" in str(info.value) and "--landmark-model" in str(info.value) and "\n" not in str(info.value)
    assert not list(cached.parent.glob(".*.tmp"))


def test_unusable_model_and_missing_mediapipe(tmp_path, monkeypatch):
    pytest.importorskip("mediapipe")
    bogus = tmp_path / "bogus.task"
    bogus.write_bytes(b"not a model")
    with pytest.raises(DataError, match="cannot load face landmark model"):
        landmarks.FaceLandmarks(bogus)
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(DataError, match=r"s3vae-tf\[faces\]"):
        landmarks.FaceLandmarks(landmark_model())
