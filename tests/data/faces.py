"""Real face stills that ship in wheels, and a warp that opens their mouth: MUG-like clips for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import shared

# subject folder -> (still, [(session, expression, take, frames)]); "002" uses the optional session level.
TREE = {
    "001": ("astronaut", [("", "happiness", "take000", 29), ("", "surprise", "take001", 29), ("", "neutral", "take000", 29)]),
    "002": (
        "grace_hopper",
        [("session1", "anger", "take000", 30), ("session1", "fear", "take003", 29), ("session2", "disgust", "take000", 20)],
    ),
}
MAX_OPENING = 0.16  # mouth opening at the last frame, as a fraction of the face width
STILL_SIZE = 240  # the stills are framed around the face at this size (small JPEGs, fast tests)


def landmark_model() -> Path:
    return shared("mediapipe", "face_landmarker.task")


def still(name: str) -> np.ndarray:
    """uint8 RGB (H, W, 3): scikit-image's astronaut or matplotlib's grace_hopper.jpg."""
    if name == "astronaut":
        import skimage.data

        return skimage.data.astronaut()
    import matplotlib
    from PIL import Image

    with Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg") as im:
        return np.asarray(im.convert("RGB"))


def framed(image: np.ndarray, faces, size: int = STILL_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The still cut to a square around its face (twice the face's extent) at ``size`` px, and its landmarks."""
    import cv2

    from s3vae_tf.data.datasets.mug import crop_square
    from s3vae_tf.data.labels.landmarks import face_box

    points = faces.points(image)
    assert points is not None, "no face found in the still"
    square = cv2.resize(crop_square(image, *face_box(points, 2.0)), (size, size), interpolation=cv2.INTER_AREA)
    points = faces.points(square)
    assert points is not None, "no face found in the framed still"
    return square, points


def open_mouth(image: np.ndarray, points: np.ndarray, opening: float) -> np.ndarray:
    """Drag the lower lip and chin down by ``opening`` pixels, a dark mouth showing in the gap.

    ``points`` are the still's face landmarks (pixels): the lip line is between landmarks 13 and 14, the
    mouth corners 61 and 291. The displacement fades out beyond the corners and below the chin.
    """
    import cv2

    h, w = image.shape[:2]
    lip_line = (points[13, 1] + points[14, 1]) / 2
    centre, half = (points[61, 0] + points[291, 0]) / 2, (points[291, 0] - points[61, 0]) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.clip(1.5 - np.abs(xs - centre) / half, 0, 1)
    depth = 2.5 * half
    down = np.clip(1 - (ys - lip_line - depth) / depth, 0, 1) * (ys > lip_line)
    source_y = (ys - opening * across * down).astype(np.float32)
    out = cv2.remap(image, xs, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out[(ys > lip_line) & (source_y <= lip_line)] = (60, 20, 25)
    return out


def build_mug_tree(root: Path, faces) -> Path:
    """Write :data:`TREE` as ``root/subjects3/...`` JPEGs (mouth opening over each take); returns subjects3."""
    from PIL import Image

    from s3vae_tf.data.labels.landmarks import face_size

    subjects3 = root / "subjects3"
    for subject, (name, takes) in TREE.items():
        image, points = framed(still(name), faces)
        widest = MAX_OPENING * face_size(points)
        for session, expression, take, count in takes:
            folder = subjects3 / subject / session / expression / take
            folder.mkdir(parents=True)
            for i in range(count):
                frame = open_mouth(image, points, widest * i / 28)
                Image.fromarray(frame).save(folder / f"img_{i:04d}.jpg", quality=92)
    (subjects3 / "README.txt").write_text("not a subject folder")
    return subjects3
