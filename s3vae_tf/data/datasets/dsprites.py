"""dSprites sequences: the dSprites shapes (Matthey et al. 2017) rendered procedurally and set in motion.

The renderer reproduces the original binary 64x64 images from their factors: shape (square, ellipse,
heart), scale (linspace(0.5, 1, 6)), orientation (linspace(0, 2 pi, 40), counter-clockwise on screen)
and position (linspace(0, 1, 32) per axis; the sprite's centre is at 16 + 32 * pos pixels). A pixel is on
when its centre lies inside the shape. The geometry at scale 1 was read off the original frames: a square
of side 19.2 px, an ellipse with semi-axes 12.8 x 7.2 px, and a heart made of two overlapping circular
lobes and the two tangents from its point (see :data:`HEART`).

A clip: 8 RGB frames of one sprite. Static factors fixed per clip: shape, scale, colour. Dynamic
factors, labelled per frame: the motion direction (8 bins, 2 position steps per frame, a new random
direction when the next step would leave the 32x32 position grid) and the rotation (clockwise, still,
counter-clockwise by 2 orientation steps per frame; it changes at random, with probability 0.2 a frame).
A frame's dynamic labels describe the step to the next frame; the last frame, whose next step is never
seen, repeats the step into it.
Every frame is a dSprites image (shape, scale, orientation and position are always on the original grid),
coloured. DFP labels: flow grid.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from s3vae_tf.config import DataConfig
from s3vae_tf.data.labels.motion import BINS, STEPS
from s3vae_tf.data.registry import DatasetSpec, Prepared, register
from s3vae_tf.data.storage.cache import ArrayCache
from s3vae_tf.data.storage.preparation import (
    SPLITS,
    Splits,
    add_flow_labels,
    cache_directory,
    cached,
    clip_counts,
    clip_rng,
    flow_params,
)
from s3vae_tf.data.storage.progress import Progress

SHAPES = ("square", "ellipse", "heart")
SCALES = tuple(float(s) for s in np.linspace(0.5, 1.0, 6))
ORIENTATIONS = 40  # linspace(0, 2 pi, 40): index 39 is index 0 again
POSITIONS = 32
CANVAS = 64

# Geometry at scale 1 in pixels, fitted to the reference frames (pixel-centre sampling).
SQUARE_HALF = 9.6
ELLIPSE_AXES = (12.8, 7.2)
HEART = {"lobe_x": 4.6, "lobe_y": 4.0, "lobe_r": 5.2, "tip": 8.8}  # lobes at (+-x, y), radius r; point at (0, -tip)

COLOURS = (
    ("white", (255, 255, 255)),
    ("red", (255, 0, 0)),
    ("green", (0, 255, 0)),
    ("blue", (0, 0, 255)),
    ("yellow", (255, 255, 0)),
    ("magenta", (255, 0, 255)),
)
ROTATIONS = ("clockwise", "still", "counter-clockwise")
FRAMES = 8
SPEED = 2  # position steps per frame (about 2 px)
ROTATION_STEP = 2  # orientation steps per frame (about 18.5 degrees)
ROTATION_CHANGE = 0.2  # chance per frame that the rotation is drawn anew
DEFAULT_CLIPS = {"train": 10_000, "test": 2_000}


def _heart_tangent() -> tuple[np.ndarray, float]:
    """Outward normal of the right tangent from the point to the right lobe, and the tangent point's height."""
    a, b, r, c = HEART["lobe_x"], HEART["lobe_y"], HEART["lobe_r"], HEART["tip"]
    length = math.hypot(a, b + c)
    heading = math.atan2(b + c, a) - math.asin(r / length)
    along = np.array([math.cos(heading), math.sin(heading)])
    normal = np.array([along[1], -along[0]])
    touch_height = -c + along[1] * math.sqrt(length**2 - r**2)
    return normal, touch_height


_HEART_NORMAL, _HEART_TOUCH = _heart_tangent()


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (np.abs(u) < SQUARE_HALF) & (np.abs(v) < SQUARE_HALF)


def _ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (u / ELLIPSE_AXES[0]) ** 2 + (v / ELLIPSE_AXES[1]) ** 2 < 1.0


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a, b, r, c = HEART["lobe_x"], HEART["lobe_y"], HEART["lobe_r"], HEART["tip"]
    side = np.abs(u)
    lobes = (side - a) ** 2 + (v - b) ** 2 < r * r
    below_tangent = side * _HEART_NORMAL[0] + (v + c) * _HEART_NORMAL[1] < 0
    body = below_tangent & (((v <= b) & (side <= a)) | (v < _HEART_TOUCH))
    return lobes | body


_SHAPE_TESTS = (_square, _ellipse, _heart)


def orientation_angle(index: float) -> float:
    """Radians of an orientation index (0..39; 39 is a full turn)."""
    return 2 * math.pi * index / (ORIENTATIONS - 1)


def render_mask(shape: int, scale: float, angle: float, x: float, y: float) -> np.ndarray:
    """Binary 64x64 image of one sprite: ``shape`` index, ``scale`` (0.5..1), ``angle`` (radians,
    counter-clockwise on screen), position ``x`` (left to right) and ``y`` (top to bottom) in [0, 1]."""
    cx, cy = 16.0 + 32.0 * x, 16.0 + 32.0 * y
    reach = 15.0 * scale + 1.0
    r0, r1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, CANVAS)
    c0, c1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, CANVAS)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    u, v = cols + 0.5 - cx, cy - (rows + 0.5)  # v points up
    cos, sin = math.cos(angle), math.sin(angle)
    mask = np.zeros((CANVAS, CANVAS), bool)
    mask[r0:r1, c0:c1] = _SHAPE_TESTS[shape]((u * cos + v * sin) / scale, (v * cos - u * sin) / scale)
    return mask


def render_factors(shape: int, scale: int, orientation: int, pos_x: int, pos_y: int) -> np.ndarray:
    """The dSprites image of factor indices (shape 0..2, scale 0..5, orientation 0..39, positions 0..31)."""
    last = POSITIONS - 1
    return render_mask(shape, SCALES[scale], orientation_angle(orientation), pos_x / last, pos_y / last)


def reference_gif_factors() -> list[tuple[int, int, int, int, int]]:
    """Factor indices (shape, scale, orientation, x, y) of the 320 frames of ``dsprites.gif`` from the
    dSprites repository: per shape, scale up/down/up, a full turn, (heart only) a walk around the
    position square, scale down. The frames are real dataset images: the renderer is checked against them."""
    updown = list(range(6)) + list(range(5, -1, -1)) + list(range(6))
    out = []
    for shape in (2, 1, 0):  # heart, ellipse, square
        out += [(shape, s, 0, 0, 0) for s in updown]
        out += [(shape, 5, k, 0, 0) for k in range(ORIENTATIONS)]
        if shape == 2:
            last = POSITIONS - 1
            out += [(2, 5, 0, 0, j) for j in range(POSITIONS)]
            out += [(2, 5, 0, j, last) for j in range(POSITIONS)]
            out += [(2, 5, 0, last, last - j) for j in range(POSITIONS)]
            out += [(2, 5, 0, last - j, 0) for j in range(POSITIONS)]
        out += [(shape, s, 0, 0, 0) for s in range(5, -1, -1)]
    return out


def _fits(x: int, y: int, direction: int) -> bool:
    nx, ny = x + SPEED * STEPS[direction][0], y + SPEED * STEPS[direction][1]
    return 0 <= nx < POSITIONS and 0 <= ny < POSITIONS


def generate_clip(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One clip: uint8 frames (8, 64, 64, 3), static (shape, scale, colour), dynamic (8, 2) (direction, rotation)."""
    shape, scale, colour = int(rng.integers(len(SHAPES))), int(rng.integers(len(SCALES))), int(rng.integers(len(COLOURS)))
    x, y = (int(v) for v in rng.integers(0, POSITIONS, 2))
    orientation = int(rng.integers(ORIENTATIONS - 1))
    direction, rotation = int(rng.integers(BINS)), int(rng.integers(len(ROTATIONS)))
    frames = np.zeros((FRAMES, CANVAS, CANVAS, 3), np.uint8)
    dynamic = np.empty((FRAMES, 2), np.int32)
    for t in range(FRAMES):
        if rng.random() < ROTATION_CHANGE and t:
            rotation = int(rng.integers(len(ROTATIONS)))
        if not _fits(x, y, direction):
            direction = int(rng.choice([d for d in range(BINS) if _fits(x, y, d)]))
        frames[t][render_factors(shape, scale, orientation, x, y)] = COLOURS[colour][1]
        dynamic[t] = direction, rotation
        x, y = x + SPEED * STEPS[direction][0], y + SPEED * STEPS[direction][1]
        orientation = (orientation + (rotation - 1) * ROTATION_STEP) % (ORIENTATIONS - 1)
    dynamic[-1] = dynamic[-2]  # the move after the last frame is never seen: keep the one into it
    return frames, np.array([shape, scale, colour], np.int32), dynamic


def generate_split(count: int, seed: int, split: str) -> dict[str, np.ndarray]:
    """``count`` clips of ``split`` with their labels, each from its own (seed, split, index) stream."""
    frames = np.empty((count, FRAMES, CANVAS, CANVAS, 3), np.uint8)
    static = np.empty((count, 3), np.int32)
    dynamic = np.empty((count, FRAMES, 2), np.int32)
    progress = Progress(f"dSprites clips ({split})", count)
    for i in range(count):
        frames[i], static[i], dynamic[i] = generate_clip(clip_rng(seed, split, i))
        progress.add()
    return {"frames": frames, "static": static, "dynamic": dynamic}


def build_splits(config: DataConfig, counts: dict[str, int] | None = None) -> Splits:
    """Both splits with flow labels."""
    counts = counts or clip_counts(config, DEFAULT_CLIPS)
    splits = {split: generate_split(counts[split], config.data_seed, split) for split in SPLITS}
    add_flow_labels(splits, config)
    return splits


def cache_for(config: DataConfig, data_root: Path) -> ArrayCache:
    """The cache of this configuration's clips (sizes, seed, flow-label settings)."""
    counts = clip_counts(config, DEFAULT_CLIPS)
    params = {"recipe": "dsprites-sequences-v2", "clips": counts, "seed": config.data_seed, **flow_params(config)}
    return ArrayCache(cache_directory(data_root, "dsprites", counts, DEFAULT_CLIPS, config.data_seed), params)


def prepare(config: DataConfig, data_root: Path) -> Prepared:
    """Render both splits and their flow labels once; later calls read the verified cache."""
    return cached(cache_for(config, data_root), lambda: build_splits(config), "dSprites sequences")


SPEC = register(
    DatasetSpec(
        name="dsprites",
        frames=FRAMES,
        frame_size=CANVAS,
        channels=3,
        pixel_scale=255.0,
        static_heads=(("shape", len(SHAPES)), ("scale", len(SCALES)), ("colour", len(COLOURS))),
        dynamic_heads=(("direction", BINS), ("rotation", len(ROTATIONS))),
        dfp_signal="flow",
        prepare=prepare,
        source="dSprites shapes (Matthey et al. 2017), rendered and animated here",
        licence="Apache-2.0 (dSprites)",
    )
)
