"""Dynamic-factor labels from optical flow: where in a GxG grid things move, and which way.

For each consecutive frame pair (t, t+1) the dense Farneback flow (OpenCV) is averaged per grid cell.
A cell "moves" when its mean flow magnitude exceeds ``threshold`` pixels; its direction is the angle of
its mean flow vector, quantised to ``bins`` sectors counter-clockwise from "right" as seen on screen
(bin 0 = right, bins/4 = up, bins/2 = left, 3*bins/4 = down). This is the cheap, label-free signal
S3VAE's DFP loss asks z_t to predict.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import cv2
import numpy as np

FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=9, iterations=3, poly_n=5, poly_sigma=1.1, flags=0)


def _gray(frame: np.ndarray) -> np.ndarray:

    if frame.ndim == 3 and frame.shape[-1] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return frame.reshape(frame.shape[0], frame.shape[1])


def dense_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Farneback flow from uint8 frame ``a`` to ``b`` (H, W, C or H, W): (H, W, 2) of (dx, dy) pixels."""

    return cv2.calcOpticalFlowFarneback(_gray(a), _gray(b), None, **FARNEBACK)


def grid_labels(flow: np.ndarray, grid: int, bins: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (moving bit, direction bin) from one flow field, cells in row-major order."""
    h, w, _ = flow.shape
    ys = np.linspace(0, h, grid + 1).round().astype(int)
    xs = np.linspace(0, w, grid + 1).round().astype(int)
    moving = np.zeros(grid * grid, np.uint8)
    direction = np.zeros(grid * grid, np.uint8)
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    for i in range(grid):
        for j in range(grid):
            cell = (slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
            k = i * grid + j
            moving[k] = magnitude[cell].mean() > threshold
            dx, dy = flow[cell][..., 0].mean(), flow[cell][..., 1].mean()
            angle = np.arctan2(-dy, dx) % (2 * np.pi)  # screen y points down; make "up" positive
            direction[k] = int(np.floor(angle / (2 * np.pi / bins) + 0.5)) % bins
    return moving, direction


def clip_labels(clip: np.ndarray, grid: int = 3, bins: int = 8, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Labels of one uint8 clip (T, H, W, C): moving (T-1, G*G) and direction (T-1, G*G), both uint8."""
    pairs = [grid_labels(dense_flow(clip[t], clip[t + 1]), grid, bins, threshold) for t in range(len(clip) - 1)]
    moving, direction = zip(*pairs)
    return np.stack(moving), np.stack(direction)


def _chunk_labels(args: tuple[np.ndarray, int, int, float]) -> tuple[np.ndarray, np.ndarray]:

    cv2.setNumThreads(1)
    clips, grid, bins, threshold = args
    out = [clip_labels(c, grid, bins, threshold) for c in clips]
    return np.stack([m for m, _ in out]), np.stack([d for _, d in out])


def dataset_labels(
    frames: np.ndarray,
    grid: int = 3,
    bins: int = 8,
    threshold: float = 0.5,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels for every clip of a uint8 array (N, T, H, W, C), spread over processes."""
    workers = workers or os.cpu_count() or 1
    chunk = 64
    jobs = [(frames[i : i + chunk], grid, bins, threshold) for i in range(0, len(frames), chunk)]
    moving, direction = [], []
    with contextlib.ExitStack() as stack:
        mapper = map
        if workers > 1 and len(jobs) > 1:
            # spawn, not fork: the parent may hold TensorFlow's threads
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            mapper = stack.enter_context(pool).map
        for m, d in mapper(_chunk_labels, jobs):
            moving.append(m)
            direction.append(d)
            if progress:
                progress(len(m))
    return np.concatenate(moving), np.concatenate(direction)
