"""The Sprites recipe: split check values, compositing, labels, order, and bad sheets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from s3vae_tf.data.datasets import sprites
from s3vae_tf.errors import DataError


def test_split_check_values():
    train, test = sprites.split_characters()
    assert len(train) == 1000 and len(test) == 296
    assert list(train[:5]) == [1116, 1135, 17, 469, 1293]
    assert list(test[:5]) == [884, 1285, 252, 297, 947]
    assert sorted(np.concatenate([train, test])) == list(range(1296))


def test_character_id_round_trip():
    for cid in (0, 17, 884, 1295):
        assert sprites.character_id(*sprites.character_factors(cid)) == cid
    assert sprites.character_id(3, 5, 0, 5) == 3 * 216 + 5 * 36 + 0 + 5


def _reference_frame(lpc_dir, factors, row, column):
    """Independent compositing in numpy (float 'over' on an opaque black canvas) of one cell."""
    canvas = np.zeros((64, 64, 3))
    layers = [f"{layer}/{option}.png" for layer, option in zip(sprites.LAYERS, factors)] + ["shoes/1.png"]
    for rel in layers:
        with Image.open(lpc_dir / rel) as im:
            cell = np.asarray(im.convert("RGBA"), np.float64)[64 * row : 64 * row + 64, 64 * column : 64 * column + 64]
        alpha = cell[..., 3:] / 255.0
        canvas = cell[..., :3] * alpha + canvas * (1 - alpha)
    return canvas


def test_character_frames_follow_the_recipe(lpc_dir):
    sheets = sprites.SpriteSheets(lpc_dir)
    factors = (2, 4, 1, 3)
    clips = sheets.character(*factors)
    assert clips.shape == (9, 8, 64, 64, 3) and clips.dtype == np.uint8
    for a, action in enumerate(sprites.ACTIONS):
        for d, direction in enumerate(sprites.DIRECTIONS):
            row = sprites.ROWS[action][direction]
            for t in (0, 5, 7):
                column = sprites.COLUMNS[action][t]
                expected = _reference_frame(lpc_dir, factors, row, column)
                got = clips[sprites.action_class(a, d), t].astype(np.float64)
                assert np.abs(got - expected).max() <= 1.0, (action, direction, t)
    assert np.all(clips[:, :, 0, 0] == 0), "background must stay black"
    # walk uses columns 8, 1..7; slash repeats column 4 at frame 6 and column 0 at frame 7
    np.testing.assert_array_equal(clips[sprites.action_class(2, 0), 6], clips[sprites.action_class(2, 0), 4])
    np.testing.assert_array_equal(clips[sprites.action_class(2, 0), 7], clips[sprites.action_class(2, 0), 0])


def test_split_labels_and_order(lpc_dir):
    train_chars = np.array([1116, 1135, 17])
    data = sprites.compose_dataset(lpc_dir, train_chars, np.array([884]))
    train = data["train"]
    assert train["frames"].shape == (27, 8, 64, 64, 3)
    # the original loader: pairs concatenated, each pair in character order, then RandomState(0) shuffles
    order = np.random.RandomState(0).permutation(27)
    for i in range(27):
        pair, ci = divmod(order[i], 3)
        assert tuple(train["static"][i]) == sprites.character_factors(int(train_chars[ci]))
        assert np.all(train["dynamic"][i] == pair)
    sheets = sprites.SpriteSheets(lpc_dir)
    pair, ci = divmod(order[0], 3)
    np.testing.assert_array_equal(train["frames"][0], sheets.character(*sprites.character_factors(int(train_chars[ci])))[pair])
    assert data["test"]["frames"].shape == (9, 8, 64, 64, 3)


def test_values_are_rgb_over_256(sprite_data_dir):
    from s3vae_tf.config import DataConfig
    from s3vae_tf.data import registry

    spec = registry.get("sprite")
    assert spec.pixel_scale == 256.0 and spec.value_range == (0.0, 255.0 / 256.0)
    splits = registry.load("sprite", DataConfig(data_dir=str(sprite_data_dir)))
    assert splits["train"]["frames"].dtype == np.uint8
    assert splits["train"]["flow_moving"].shape == (72, 7, 9)


def test_missing_lpc_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        sprites.resolve_lpc_dir(str(tmp_path / "nope"), tmp_path)


def test_corrupt_sheet_is_a_clear_error(lpc_dir, tmp_path):
    import shutil

    broken = tmp_path / "lpc"
    shutil.copytree(lpc_dir, broken)
    (broken / "hair" / "3.png").chmod(0o644)
    (broken / "hair" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DataError, match="corrupt or unreadable LPC sheet .*hair/3.png"):
        sprites.SpriteSheets(broken)


def test_a_changed_sheet_rebuilds_the_cache(lpc_dir, tmp_path, monkeypatch):
    """The cache records the sheets' sha256: the same sheets reuse it, an edited sheet rebuilds it."""
    import shutil

    from s3vae_tf.config import DataConfig
    from s3vae_tf.data.storage.cache import source_digests
    from s3vae_tf.data.storage.preparation import flatten

    sheets = tmp_path / "lpc"
    shutil.copytree(lpc_dir, sheets)
    config = DataConfig(data_dir=str(tmp_path / "data"), lpc_dir=str(sheets))
    root = tmp_path / "data"
    train_chars, test_chars = sprites.split_characters()
    tiny = sprites.build_splits(sheets, config, train_chars[:2], test_chars[:1])
    sprites.cache_for(config, root).save(flatten(tiny), source_digests(sprites.source_files(config, root)))
    builds = []
    monkeypatch.setattr(sprites, "build_splits", lambda directory, cfg: builds.append(directory) or tiny)

    sprites.prepare(config, root)
    assert builds == [], "unchanged sheets: the cache is used"
    path = sheets / "hair" / "3.png"
    path.chmod(0o644)
    with Image.open(path) as im:
        edited = im.convert("RGBA")
    edited.putpixel((0, 0), (1, 2, 3, 255))
    edited.save(path)
    sprites.prepare(config, root)
    assert builds == [sheets], "an edited sheet rebuilds"
    manifest = (root / "sprite" / "manifest.json").read_text()
    assert source_digests({"hair/3.png": path})["hair/3.png"] in manifest
    sprites.prepare(config, root)
    assert len(builds) == 1, "the rebuilt cache records the new sheet"


def test_offline_download_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("S3VAE_LPC_DIR", raising=False)
    monkeypatch.setattr(sprites, "ARCHIVE_URL", "http://127.0.0.1:9/sprites.zip")
    with pytest.raises(DataError) as info:
        sprites.resolve_lpc_dir("", tmp_path)
    message = str(info.value)
    assert "cannot download" in message and "--lpc-dir" in message and "\n" not in message
    assert not any(tmp_path.rglob("*.zip")), "no partial download may remain"


@pytest.mark.slow
def test_full_dataset_sizes_and_labels(lpc_dir):
    """The whole benchmark: 9000 / 2664 clips, every label in range, each class equally often."""
    data = sprites.compose_dataset(lpc_dir)
    assert data["train"]["frames"].shape == (9000, 8, 64, 64, 3)
    assert data["test"]["frames"].shape == (2664, 8, 64, 64, 3)
    for split, count in (("train", 1000), ("test", 296)):
        assert np.all(np.bincount(data[split]["dynamic"][:, 0, 0], minlength=9) == count)
        assert data[split]["static"].min() == 0 and data[split]["static"].max() == 5
    train_ids = {sprites.character_id(*s) for s in data["train"]["static"]}
    test_ids = {sprites.character_id(*s) for s in data["test"]["static"]}
    assert not train_ids & test_ids and len(train_ids) == 1000 and len(test_ids) == 296
