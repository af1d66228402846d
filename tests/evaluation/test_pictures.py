"""Swap and generation pictures keep the right latent; TensorBoard gets the same pictures, PNG and GIF."""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from s3vae_tf.pictures.figures import GROUP_GAP, NAMES, as_gif, as_png, pictures
from tests.evaluation.helpers import FRAMES, SIZE, DisentangledStub, labelled_stub_clips

STATIC, DYNAMIC = 0, 1  # the stub's channels for z_f and z_t


def _clips(n=4):
    return labelled_stub_clips()["frames"][[0, 5, 7, 10][:n]].astype("float32") / 100.0


def test_swaps_and_fixed_latents_keep_what_they_say():
    clips = _clips()
    out = pictures(DisentangledStub(), clips, samples=3, seed=2)
    assert tuple(out) == NAMES
    for a, b, a_with_b, b_with_a in out["swaps"]:
        np.testing.assert_allclose(a_with_b[..., STATIC], b[..., STATIC])  # b's appearance
        np.testing.assert_allclose(a_with_b[..., DYNAMIC], a[..., DYNAMIC])  # a's motion
        np.testing.assert_allclose(b_with_a[..., STATIC], a[..., STATIC])
    assert len(out["swaps"]) == 2 and len(out["reconstructions"]) == 4
    for row in out["fixed_appearance"]:
        source, generated = row[0], row[1:]
        assert len(generated) == 3
        for clip in generated:
            np.testing.assert_allclose(clip[..., STATIC], source[..., STATIC])
        assert not np.allclose(generated[0][..., DYNAMIC], generated[1][..., DYNAMIC])  # motions vary
    for row in out["fixed_motion"]:
        source, generated = row[0], row[1:]
        for clip in generated:
            np.testing.assert_allclose(clip[..., DYNAMIC], source[..., DYNAMIC])
        assert not np.allclose(generated[0][..., STATIC], generated[1][..., STATIC])  # appearances vary


def test_png_and_gif_layout():
    moving = _clips() + 0.1 * np.arange(FRAMES)[None, :, None, None, None]  # frames differ (GIF keeps them all)
    table = pictures(DisentangledStub(), moving, samples=3)["fixed_motion"]  # 4 rows of 4 clips
    png = as_png(table)
    rows_of_four = 4 * (4 * (SIZE + 2) + 2) + 3 * GROUP_GAP  # 4 groups of 4 clips, gaps between groups
    assert png.dtype == np.uint8 and png.shape == (rows_of_four, FRAMES * (SIZE + 2) + 2, 3)
    with Image.open(io.BytesIO(as_gif(table, scale=2))) as gif:
        assert gif.format == "GIF" and gif.n_frames == FRAMES
        assert gif.size == (2 * (4 * (SIZE + 2) + 2), 2 * (4 * (SIZE + 2) + 2))


def test_training_callback_writes_the_same_pictures_to_tensorboard(tmp_path):
    from s3vae_tf.models.s3vae import S3VAE
    from s3vae_tf.training.callbacks import ImageGrids
    from tests.conftest import SPRITE_LABELS, TINY_MODEL

    model = S3VAE(model={**TINY_MODEL, "frames": 4}, labels=SPRITE_LABELS)
    model.build()
    clips = np.random.default_rng(0).random((4, 4, 64, 64, 3)).astype("float32")
    callback = ImageGrids(tmp_path, clips, every=1, samples=2)
    callback.set_model(model)
    callback.set_params({"epochs": 1})
    callback.on_epoch_end(0)
    tags = {}
    for path in (tmp_path / "images").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags[value.tag] = tf.make_ndarray(value.tensor)
    assert set(tags) == set(NAMES) | {f"{n}_gif" for n in NAMES}
    swaps_png = Image.open(io.BytesIO(tags["swaps"][2]))
    assert swaps_png.format == "PNG" and swaps_png.size == (4 * 66 + 2, 2 * (4 * 66 + 2) + GROUP_GAP)  # 2 pairs x 4 clips
    with Image.open(io.BytesIO(tags["fixed_motion_gif"][2])) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4 and tags["fixed_motion_gif"][0] == str(gif.size[0]).encode()
