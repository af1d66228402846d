"""What a model learned, as pictures: reconstructions, swaps, and generations with one latent fixed.

Each picture is a table of clips (rows of float (T, H, W, C) clips in [0, 1]), as in the paper's figures:

* ``reconstructions``: each row a test clip and its reconstruction from the posterior means;
* ``swaps``: clips a and b, then a's motion with b's appearance and b's motion with a's appearance;
* ``fixed_appearance``: a test clip, then clips keeping its z_f with z_1:T drawn from the learned prior
  (one character, several motions);
* ``fixed_motion``: a test clip, then clips keeping its z_1:T with z_f drawn from N(0, I) (one motion,
  several characters);
* ``samples``: clips with both latents drawn from the priors.

A generator without an encoder (MoCoGAN, ``model.has_encoder`` False) has no reconstructions or swaps; its
pictures (:data:`GENERATOR_NAMES`) have one row per action category:

* ``samples``: clips of the row's category, each with its own content and motion noise;
* ``fixed_motion``: the row's category and one motion noise kept, the content drawn anew in each clip
  (protocol A's generations);
* ``fixed_content``: one content per row, the clips running through the categories with one motion noise.

``python -m s3vae_tf.swap`` saves them as PNG grids and GIFs; the training callback writes the same
pictures to TensorBoard.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from s3vae_tf.pictures.grids import clip_grid, table_gif_bytes

Table = list[list[np.ndarray]]
NAMES = ("reconstructions", "swaps", "fixed_appearance", "fixed_motion", "samples")
GENERATOR_NAMES = ("samples", "fixed_motion", "fixed_content")
GROUP_GAP = 8  # extra white pixels between the rows of a table in a PNG


def reconstructions(model, clips: np.ndarray) -> Table:
    recon = model(tf.constant(clips), training=False).numpy()
    return [[x, r] for x, r in zip(clips, recon)]


def swaps(model, a: np.ndarray, b: np.ndarray) -> Table:
    a_with_b, b_with_a = (t.numpy() for t in model.swap(tf.constant(a), tf.constant(b)))
    return [list(row) for row in zip(a, b, a_with_b, b_with_a)]


def fixed_appearance(model, clips: np.ndarray, samples: int, seed: int = 0) -> Table:
    """Per clip: the clip, then ``samples`` clips with its z_f and z_1:T from the learned prior."""
    f_mean = model.encode(tf.constant(clips))["f_mean"]
    generated = model.generate(len(clips) * samples, seed=seed, z_f=tf.repeat(f_mean, samples, axis=0)).numpy()
    return _rows(clips, generated, samples)


def fixed_motion(model, clips: np.ndarray, samples: int, seed: int = 0) -> Table:
    """Per clip: the clip, then ``samples`` clips with its z_1:T and z_f from N(0, I)."""
    z_mean = model.encode(tf.constant(clips))["z_mean"]
    generated = model.generate(len(clips) * samples, seed=seed, z_t=tf.repeat(z_mean, samples, axis=0)).numpy()
    return _rows(clips, generated, samples)


def random_samples(model, count: int, per_row: int, seed: int = 0) -> Table:
    generated = model.generate(count, seed=seed).numpy()
    return [list(generated[i : i + per_row]) for i in range(0, count, per_row)]


def _rows(clips: np.ndarray, generated: np.ndarray, samples: int) -> Table:
    return [[clip, *generated[i * samples : (i + 1) * samples]] for i, clip in enumerate(clips)]


def category_pictures(model, samples: int = 4, seed: int = 0) -> dict[str, Table]:
    """Every picture of :data:`GENERATOR_NAMES` of a generator with ``model.categories`` categories, ``samples``
    clips per row (``fixed_content``: one clip per category)."""
    mc, categories = model.model_config, model.categories
    rng = np.random.default_rng([seed, 9])
    count = categories * samples
    row_category = np.repeat(np.arange(categories, dtype=np.int32), samples)  # row k: category k, `samples` times
    content = rng.standard_normal((count, mc.f_dim)).astype(np.float32)
    motion = rng.standard_normal((count, mc.frames, mc.z_dim)).astype(np.float32)
    fixed_motion = np.repeat(motion[::samples], samples, axis=0)  # one motion noise per row
    rows = min(categories, samples + 1)
    row_content = np.repeat(content[:rows], categories, axis=0)  # fixed_content: row r = content r, every category
    every_category = np.tile(np.arange(categories, dtype=np.int32), rows)
    one_motion = np.repeat(motion[:1], rows * categories, axis=0)

    def table(generated: np.ndarray, per_row: int) -> Table:
        return [list(generated[i : i + per_row]) for i in range(0, len(generated), per_row)]

    def draw(c, m, k) -> np.ndarray:
        return model.generate_from_noise(tf.constant(c), tf.constant(m), tf.constant(k)).numpy()

    return {
        "samples": table(draw(content, motion, row_category), samples),
        "fixed_motion": table(draw(content, fixed_motion, row_category), samples),
        "fixed_content": table(draw(row_content, one_motion, every_category), categories),
    }


def pictures(model, clips: np.ndarray, samples: int = 4, seed: int = 0) -> dict[str, Table]:
    """Every picture of :data:`NAMES` for test ``clips`` (float, at least 2): swaps pair the first half of
    the clips with the second half. A generator without an encoder gets :func:`category_pictures` instead
    (the clips are not used)."""
    if not getattr(model, "has_encoder", True):
        return category_pictures(model, samples, seed)
    clips = np.asarray(clips, np.float32)
    if len(clips) < 2:
        raise ValueError("pictures need at least 2 clips (swaps pair them)")
    half = len(clips) // 2
    return {
        "reconstructions": reconstructions(model, clips),
        "swaps": swaps(model, clips[:half], clips[half : 2 * half]),
        "fixed_appearance": fixed_appearance(model, clips, samples, seed),
        "fixed_motion": fixed_motion(model, clips, samples, seed),
        "samples": random_samples(model, len(clips) * samples, samples + 1, seed),
    }


def as_png(table: Sequence[Sequence[np.ndarray]], gap: int = GROUP_GAP) -> np.ndarray:
    """uint8 image: every clip of the table as one row of frames; the table's rows follow one another,
    ``gap`` extra white pixels apart, so that the clips of one row read as a group."""
    grids = [clip_grid(list(row)) for row in table]
    width = max(g.shape[1] for g in grids)
    parts = []
    for i, grid in enumerate(grids):
        if i:
            parts.append(np.full((gap, width, 3), 255, np.uint8))
        parts.append(np.pad(grid, ((0, 0), (0, width - grid.shape[1]), (0, 0)), constant_values=255))
    return np.concatenate(parts, axis=0)


def as_gif(table: Sequence[Sequence[np.ndarray]], scale: int = 1) -> bytes:
    """Animated GIF of the table: each cell plays its clip."""
    return table_gif_bytes(table, scale=scale)
