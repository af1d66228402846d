"""Face landmarks (MediaPipe Tasks ``FaceLandmarker``) -> three distances per frame: eyelids and lips.

The distances are those of the face mesh's left eyelids (159/145), right eyelids (386/374) and inner
lips (13/14), each divided by the face size (the width of the box around all 478 landmarks), so they
describe the eyes and mouth opening whatever the face's size in the frame. They are the DFP labels of the
face datasets.

The model file ``face_landmarker.task`` comes from --landmark-model, else $S3VAE_LANDMARK_MODEL, else
``<data_dir>/models/face_landmarker.task``, downloaded and sha256-checked when missing. mediapipe is an
optional dependency: ``pip install 's3vae-tf[faces]'``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from s3vae_tf.data.storage.download import download
from s3vae_tf.data.storage.sources import given_path
from s3vae_tf.errors import DataError
from s3vae_tf.io import sha256_file

MODEL_URL = "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_NAME = "face_landmarker.task"
PAIRS = ((159, 145), (386, 374), (13, 14))
NAMES = ("left_eyelids", "right_eyelids", "lips")


def resolve_model(chosen: str, data_root: Path) -> Path:
    """The landmark model: the flag, else the environment variable, else the cache (downloaded when missing)."""
    path = given_path(chosen, "S3VAE_LANDMARK_MODEL", "face landmark model", "--landmark-model", kind="file")
    if path is not None:
        return path
    path = Path(data_root) / "models" / MODEL_NAME
    if path.is_file():
        if sha256_file(path) == MODEL_SHA256:
            return path
        print(f"{path} does not match its checksum; downloading it again", flush=True)
    hint = f"download {MODEL_NAME} yourself and pass --landmark-model (or set S3VAE_LANDMARK_MODEL)"
    return download(MODEL_URL, path, sha256=MODEL_SHA256, hint=hint)


def face_size(points: np.ndarray) -> float:
    """Width of the box around the landmarks (pixels)."""
    return float(points[:, 0].max() - points[:, 0].min())


def distances(points: np.ndarray) -> np.ndarray:
    """Left eyelids, right eyelids, inner lips: float32 (3,), each divided by :func:`face_size`."""
    gaps = [np.linalg.norm(points[a] - points[b]) for a, b in PAIRS]
    return np.asarray(gaps, np.float32) / np.float32(max(face_size(points), 1e-6))


def face_box(points: np.ndarray, margin: float = 1.3) -> tuple[int, int, int]:
    """A square around the landmarks, ``margin`` times their larger extent: (left, top, side) in pixels."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    side = int(round(max(high - low) * margin))
    return int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), max(side, 1)


class FaceLandmarks:
    """A MediaPipe FaceLandmarker (one face, still images) that returns landmark pixel coordinates."""

    def __init__(self, model_path: str | os.PathLike):
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            raise DataError("face landmarks need mediapipe: pip install 's3vae-tf[faces]'") from None
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=1,
        )
        try:
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:
            raise DataError(f"cannot load face landmark model {model_path}: {' '.join(str(exc).split())}") from None

    def points(self, image: np.ndarray) -> np.ndarray | None:
        """Landmarks (478, 2) as (x, y) pixels of a uint8 RGB image (H, W, 3), or None when no face is found."""
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        found = self._landmarker.detect(frame).face_landmarks
        if not found:
            return None
        h, w = image.shape[:2]
        return np.array([(p.x * w, p.y * h) for p in found[0]], np.float32)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "FaceLandmarks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fill_gaps(values: np.ndarray) -> np.ndarray | None:
    """Per-frame rows (T, K) with NaN rows (no face) filled by linear interpolation; None if all are NaN."""
    valid = ~np.isnan(values).any(axis=1)
    if not valid.any():
        return None
    t = np.arange(len(values))
    filled = np.stack([np.interp(t, t[valid], values[valid, k]) for k in range(values.shape[1])], axis=1)
    return filled.astype(np.float32)
