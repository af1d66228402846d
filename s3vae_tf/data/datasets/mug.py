"""MUG facial expressions (Aifanti et al. 2010): the licensed database, read from its official layout.

``subjects3/NNN/[sessionK/]expression/takeNNN/img_NNNN.jpg``. Neutral takes are dropped; of the others
(anger, disgust, fear, happiness, sadness, surprise) each take gives one clip of 15 frames, every 2nd
frame from its start. The face box is found once per take, by face landmarks on the clip's middle
frame, and applied to all its frames (so head motion stays in the clip); frames are cropped to that
square (1.3 times the landmarks' extent) and resized to 64x64 RGB. Takes shorter than 29 frames, or
without a face on the middle frame, are skipped (and counted).

Labels: static = subject (index of its folder in sorted order), dynamic = expression (per frame, constant).
DFP labels: eyelid and lip distances per frame (:mod:`s3vae_tf.data.labels.landmarks`). Takes are split at
random (seed 0) into 75 % train and 25 % test, so every subject appears in both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from s3vae_tf.config import DataConfig
from s3vae_tf.data.labels import landmarks
from s3vae_tf.data.registry import DatasetSpec, Prepared, register
from s3vae_tf.data.storage.cache import ArrayCache
from s3vae_tf.data.storage.preparation import Splits, cached
from s3vae_tf.data.storage.progress import Progress
from s3vae_tf.data.storage.sources import given
from s3vae_tf.errors import DataError, UsageError

EXPRESSIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
NEUTRAL = "neutral"
MAX_SUBJECTS = 86  # the database's subject count; labels are indices of the subjects found
FRAMES = 15
STRIDE = 2
SIZE = 64
MARGIN = 1.3
LANDMARK_SIZE = 256  # crops larger than this are shrunk before landmark detection
TEST_FRACTION = 0.25
SPLIT_SEED = 0
SITE = "https://mug.ee.auth.gr/fed/"

_TAKE = re.compile(r"take\d+")
_IMAGE = re.compile(r"img_(\d+)\.jpe?g", re.IGNORECASE)


@dataclass(frozen=True)
class Take:
    """One recording: who, which expression, and its frames in order."""

    subject: str
    session: str
    expression: str
    path: Path
    images: tuple[Path, ...]


def resolve_mug_dir(config: DataConfig, data_root: Path) -> Path:
    """The ``subjects3`` folder (or the folder holding it): from --mug-dir, else $S3VAE_MUG_DIR."""
    chosen = given(config.mug_dir, "S3VAE_MUG_DIR")
    how = f"request it at {SITE} and pass --mug-dir (or set S3VAE_MUG_DIR) to its subjects3 folder"
    if not chosen:
        raise DataError(f"the MUG database is licensed and cannot be downloaded: {how}")
    path = Path(chosen).expanduser()
    if (path / "subjects3").is_dir():
        path = path / "subjects3"
    if not path.is_dir():
        raise DataError(f"MUG database directory {path} does not exist; the database is licensed: {how}")
    return path


def _image_number(path: Path) -> int:
    return int(_IMAGE.fullmatch(path.name).group(1))  # type: ignore[union-attr]


def find_takes(root: Path, include_neutral: bool = False) -> list[Take]:
    """Every take under ``root`` (a subjects3 folder), sorted by path; neutral ones only when asked."""
    takes = []
    wanted = set(EXPRESSIONS) | ({NEUTRAL} if include_neutral else set())
    for subject_dir in sorted(p for p in Path(root).iterdir() if p.is_dir() and p.name.isdigit()):
        sessions = [subject_dir] + sorted(p for p in subject_dir.iterdir() if p.is_dir() and p.name.lower().startswith("session"))
        for parent in sessions:
            session = "" if parent == subject_dir else parent.name
            for expression_dir in sorted(p for p in parent.iterdir() if p.is_dir() and p.name.lower() in wanted):
                for take_dir in sorted(p for p in expression_dir.iterdir() if p.is_dir() and _TAKE.fullmatch(p.name)):
                    images = sorted((p for p in take_dir.iterdir() if _IMAGE.fullmatch(p.name)), key=_image_number)
                    takes.append(Take(subject_dir.name, session, expression_dir.name.lower(), take_dir, tuple(images)))
    return takes


def split_takes(count: int) -> dict[str, np.ndarray]:
    """Indices of the train and test takes: a seeded permutation, 25 % (at least one) to test."""
    if count < 2:
        raise DataError(f"MUG needs at least 2 usable takes (one per split), found {count}")
    order = np.random.RandomState(SPLIT_SEED).permutation(count)
    test = max(1, int(round(count * TEST_FRACTION)))
    return {"train": np.sort(order[test:]), "test": np.sort(order[:test])}


def _read_rgb(path: Path) -> np.ndarray:

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"corrupt or unreadable MUG frame {path}: {exc}") from None


def crop_square(image: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` square at (left, top), the image's edge pixels repeated where it sticks out."""
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        left, top = left + pad, top + pad
    return image[top : top + side, left : left + side]


def _shrink(image: np.ndarray, size: int) -> np.ndarray:

    if image.shape[0] <= size:
        return np.ascontiguousarray(image)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def process_take(take: Take, faces: landmarks.FaceLandmarks) -> tuple[np.ndarray, np.ndarray] | None:
    """Frames (15, 64, 64, 3) uint8 and landmark distances (15, 3) of one take; None without a face."""

    chosen = take.images[: (FRAMES - 1) * STRIDE + 1 : STRIDE]
    images = [_read_rgb(path) for path in chosen]
    middle = faces.points(images[FRAMES // 2])
    if middle is None:
        return None
    left, top, side = landmarks.face_box(middle, MARGIN)
    frames = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
    gaps = np.full((FRAMES, len(landmarks.PAIRS)), np.nan, np.float32)
    for t, image in enumerate(images):
        crop = crop_square(image, left, top, side)
        frames[t] = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        points = faces.points(_shrink(crop, LANDMARK_SIZE))
        if points is not None:
            gaps[t] = landmarks.distances(points)
    filled = landmarks.fill_gaps(gaps)
    return None if filled is None else (frames, filled)


def build_splits(config: DataConfig, data_root: Path) -> Splits:
    """Find, split and preprocess every usable take; the landmark model is resolved after the database."""
    root = resolve_mug_dir(config, data_root)
    found = find_takes(root)
    needed = (FRAMES - 1) * STRIDE + 1
    takes = [t for t in found if len(t.images) >= needed]
    if not takes:
        raise DataError(
            f"no usable MUG takes under {root} (expected NNN/[sessionK/]expression/takeNNN/img_NNNN.jpg "
            f"with at least {needed} frames, expressions {', '.join(EXPRESSIONS)})"
        )
    subjects = sorted({t.subject for t in takes})
    if len(subjects) > MAX_SUBJECTS:
        raise DataError(f"MUG folder {root} holds {len(subjects)} subjects; the dataset has at most {MAX_SUBJECTS}")
    model = landmarks.resolve_model(config.landmark_model, data_root)
    splits: Splits = {}
    faceless = 0
    progress = Progress("MUG takes", len(takes))
    with landmarks.FaceLandmarks(model) as faces:
        for split, indices in split_takes(len(takes)).items():
            frames, distances, static, dynamic = [], [], [], []
            for i in indices:
                take = takes[i]
                result = process_take(take, faces)
                progress.add()
                if result is None:
                    faceless += 1
                    continue
                frames.append(result[0])
                distances.append(result[1])
                static.append([subjects.index(take.subject)])
                dynamic.append(np.full((FRAMES, 1), EXPRESSIONS.index(take.expression)))
            if not frames:
                raise DataError(f"no face found in any {split} take of the MUG folder {root}")
            splits[split] = {
                "frames": np.stack(frames),
                "landmarks": np.stack(distances),
                "static": np.asarray(static, np.int32),
                "dynamic": np.stack(dynamic).astype(np.int32),
            }
    skipped = len(found) - len(takes)
    if skipped or faceless:
        print(f"MUG: skipped {skipped} takes shorter than {needed} frames and {faceless} without a face", flush=True)
    return splits


def source_files(config: DataConfig, data_root: Path) -> dict[str, Path] | None:
    """Every take image and the landmark model the clips are made from. Explicit paths (--mug-dir,
    --landmark-model and their environment variables) are checked (DataError when missing); None without
    --mug-dir (the cache then stands as it is) or before the default landmark model is downloaded."""
    model = given(config.landmark_model, "S3VAE_LANDMARK_MODEL")
    model_path = landmarks.resolve_model(model, data_root) if model else Path(data_root) / "models" / landmarks.MODEL_NAME
    if not given(config.mug_dir, "S3VAE_MUG_DIR"):
        return None
    root = resolve_mug_dir(config, data_root)
    if not model_path.is_file():
        return None
    files = {str(image.relative_to(root)): image for take in find_takes(root) for image in take.images}
    files[landmarks.MODEL_NAME] = model_path
    return files


def cache_for(config: DataConfig, data_root: Path) -> ArrayCache:
    """The cache of the prepared MUG clips (valid for this recipe)."""
    params = {
        "recipe": "mug-v1",
        "frames": FRAMES,
        "stride": STRIDE,
        "size": SIZE,
        "margin": MARGIN,
        "test_fraction": TEST_FRACTION,
        "split_seed": SPLIT_SEED,
        "landmarks": list(landmarks.PAIRS),
    }
    return ArrayCache(Path(data_root) / "mug", params)


def prepare(config: DataConfig, data_root: Path) -> Prepared:
    """Preprocess the database once; later calls read the verified cache."""
    if config.train_clips or config.test_clips or config.data_seed:
        raise UsageError("--train-clips, --test-clips and --data-seed are for generated datasets; cap MUG with --max-train-clips")
    return cached(
        cache_for(config, data_root),
        lambda: build_splits(config, data_root),
        "MUG facial expressions",
        sources=lambda: source_files(config, data_root),
    )


SPEC = register(
    DatasetSpec(
        name="mug",
        frames=FRAMES,
        frame_size=SIZE,
        channels=3,
        pixel_scale=255.0,
        static_heads=(("subject", MAX_SUBJECTS),),
        dynamic_heads=(("expression", len(EXPRESSIONS)),),
        dfp_signal="landmarks",
        prepare=prepare,
        source=f"MUG Facial Expression Database (Aifanti et al. 2010), {SITE}",
        licence="research licence on request (not redistributable)",
    )
)
