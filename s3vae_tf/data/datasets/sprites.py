"""The Sprites benchmark (Li & Mandt 2018), composed from the Liberated Pixel Cup sheets.

1296 characters = (skin, pants, top, hair) in {0..5}^4, each drawn in 3 actions x 3 directions of
8 frames. Characters are split by ``RandomState(423).permutation(1296)``: the first 1000 train, the last
296 test, giving 9000 / 2664 clips of 8x64x64x3. Frames are RGB / 256, as in the original npy files.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from s3vae_tf.config import DataConfig
from s3vae_tf.data.registry import DatasetSpec, Prepared, register
from s3vae_tf.data.storage.cache import ArrayCache
from s3vae_tf.data.storage.download import download
from s3vae_tf.data.storage.preparation import Splits, add_flow_labels, cached, flow_params
from s3vae_tf.data.storage.sources import given, given_path
from s3vae_tf.errors import DataError

LAYERS = ("body", "bottomwear", "topwear", "hair")  # compositing order; shoes/1 goes on last
STATIC_FACTORS = ("skin", "pants", "top", "hair")  # the same four, as labels
ACTIONS = ("walk", "spellcast", "slash")
DIRECTIONS = ("front", "left", "right")
NUM_OPTIONS = 6
NUM_CHARACTERS = NUM_OPTIONS**4
NUM_TRAIN_CHARACTERS = 1000
SPLIT_SEED = 423
SHUFFLE_SEED = 0
FRAMES = 8
CELL = 64
SHEET_SIZE = (832, 1344)  # width, height: 13 x 21 cells

# Sheet rows per action and direction, and the sheet columns that make the 8 frames.
ROWS = {
    "walk": {"left": 9, "front": 10, "right": 11},
    "spellcast": {"left": 1, "front": 2, "right": 3},
    "slash": {"left": 13, "front": 14, "right": 15},
}
COLUMNS = {
    "walk": (8, 1, 2, 3, 4, 5, 6, 7),
    "spellcast": (0, 1, 2, 3, 4, 5, 4, 6),
    "slash": (0, 1, 2, 3, 4, 5, 4, 0),
}

# The public source of exactly these layers (same file names), and their checksums.
ARCHIVE_URL = "https://github.com/YingzhenLi/Sprites/archive/3ce4048c5227802bd8f1888e293fd3afdba91c0c.zip"
SHEET_SHA256 = {
    "body/0.png": "27d1ac78db37c42f35a20d15c42705efc5e58d47c236cc01423879d4f797f151",
    "body/1.png": "1535e9228357b884df80f777a0d1dac10ac35e550e4d8d077105ccad014a1460",
    "body/2.png": "7c241033b4897501cb3721b6c3a9ebfa94b13db10a539edbd9bcc3e0c2a4bcb9",
    "body/3.png": "055f5aa33fc112d8444b42fce2cf50608a9fbbf2466c54ceaa46c777589a717a",
    "body/4.png": "57f3b9c510482379aba9a32fc0de7d48e9cbe3dc40f2447283547f773b77ca72",
    "body/5.png": "91e49453aeab5ebbb4fd2b48253812895dcfb4cb1829b84e24425c66de8f04ff",
    "bottomwear/0.png": "4ec356c488e272fde2d2d0d722b12a80217871e41161d43ba784caf243969ec2",
    "bottomwear/1.png": "0674312eaa4ab548f8bb31ef95d7dbd46b41555758cec51bd6c3e9fac9a0f936",
    "bottomwear/2.png": "3b464feb0d20ff34b0ca2a6d1fd00766ad86e2229c3d56ff91379fe27588a893",
    "bottomwear/3.png": "b366e84ea0519d06cf693f51e0ee2f9ac32b3132d27c75dfdc4b6f52fca072de",
    "bottomwear/4.png": "4ed7e7702e4f50b9692c0043be04b7296a108d85ea97230fb50d13c150d98771",
    "bottomwear/5.png": "a5c5e7e33f13fe5ad37b5836a5a74fb0d2094a0877c2146961b88688ff85840d",
    "hair/0.png": "e4007b0635a239ad16cdebfe90759349ccc73dfc6836c9d19625714be185f43d",
    "hair/1.png": "fa6369f84d3310705df6d8ca8c9d515a7d211e73d2826c50a9cb5bb285652c66",
    "hair/2.png": "1b8046752be7233e829ebe9b11048e171d8d181ee6f68e07042b34f57bb8af0d",
    "hair/3.png": "333783285c5fd94ff434ae5000d2da39aac7940269f173119eaa70d34c8acfa1",
    "hair/4.png": "24df8e9b291cbd444f6c4d12d35b3d43d909cd13f04e6401e0fd8ab10216d5a2",
    "hair/5.png": "4dd471cc20e0b1cf71adcaab01c88598767e5cfe680adacdf560ca91574f17ae",
    "shoes/1.png": "d56a561616a20a12030d2d40a52eeec63e6d048871bf3b6994221869362151f1",
    "topwear/0.png": "b917edcf2b3c35d51ef57a6fad67557c5edf048785bea29db09a640d09ac9a90",
    "topwear/1.png": "e33c6cb31ed1268a2c0dc73b665b1c9b9420e22baf3321880222bdb22682368b",
    "topwear/2.png": "2b9b8fefa08894b7ea536cd62b86d494aefe6e54495c5c1d83460827b13b6448",
    "topwear/3.png": "807f5b628592f6747e2814be9435963069dba6c360577168c02f57bbe903433d",
    "topwear/4.png": "b51b17878503877e179ce4f9231713bf2b2d2d666c3ec9ee29f4e784469867a2",
    "topwear/5.png": "1b6049d43f83ebfda857cc405d1936ac9fd80be480fa6ad239024a6a75ad0372",
}


def character_id(skin: int, pants: int, top: int, hair: int) -> int:
    """The original's character number: the base-6 digits skin, pants, top, hair."""
    return 216 * skin + 36 * pants + 6 * top + hair


def character_factors(cid: int) -> tuple[int, int, int, int]:
    """Inverse of :func:`character_id`."""
    return cid // 216, (cid // 36) % 6, (cid // 6) % 6, cid % 6


def split_characters() -> tuple[np.ndarray, np.ndarray]:
    """Train and test character ids: the seed-423 permutation, first 1000 / last 296."""
    order = np.random.RandomState(SPLIT_SEED).permutation(NUM_CHARACTERS)
    return order[:NUM_TRAIN_CHARACTERS], order[NUM_TRAIN_CHARACTERS:]


def action_class(action: int, direction: int) -> int:
    """Dynamic label: 3 * action + direction, actions (walk, spellcast, slash), directions (front, left, right)."""
    return 3 * action + direction


def resolve_lpc_dir(lpc_dir: str, data_dir: Path) -> Path:
    """The sheets directory: the flag, else $S3VAE_LPC_DIR, else <data_dir>/lpc (downloaded when missing)."""
    path = given_path(lpc_dir, "S3VAE_LPC_DIR", "LPC sheet directory", "--lpc-dir")
    if path is not None:
        return path
    path = Path(data_dir) / "lpc"
    if not _has_every_sheet(path):
        fetch_sheets(path)
    return path


def _has_every_sheet(directory: Path) -> bool:
    return all((directory / name).is_file() for name in SHEET_SHA256)


def source_files(config: DataConfig, data_root: Path) -> dict[str, Path] | None:
    """The 25 sheets the dataset is composed from: from --lpc-dir / $S3VAE_LPC_DIR (checked: DataError when
    missing), else ``<data_root>/lpc`` when it holds them all, else None (they would be downloaded)."""
    if given(config.lpc_dir, "S3VAE_LPC_DIR"):
        directory = resolve_lpc_dir(config.lpc_dir, Path(data_root))
    else:
        directory = Path(data_root) / "lpc"
        if not _has_every_sheet(directory):
            return None
    return {name: directory / name for name in SHEET_SHA256}


def fetch_sheets(target: Path) -> None:
    """Download the public layer archive and unpack the 25 sheets the dataset uses, checksum-verified."""
    archive = download(
        ARCHIVE_URL,
        Path(target) / "sprites-archive.zip",
        hint="download it yourself and pass --lpc-dir (or set S3VAE_LPC_DIR) to the folder with body/ hair/ ...",
    )
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {name.split("/", 1)[1]: name for name in zf.namelist() if "/" in name}
            for rel, expected in SHEET_SHA256.items():
                if rel not in members:
                    raise DataError(f"the downloaded archive {archive} lacks {rel}")
                data = zf.read(members[rel])
                if hashlib.sha256(data).hexdigest() != expected:
                    raise DataError(f"{rel} in the downloaded archive does not match its checksum")
                out = Path(target) / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
    except zipfile.BadZipFile:
        raise DataError(f"the downloaded archive {archive} is not a zip file") from None
    finally:
        archive.unlink(missing_ok=True)


class SpriteSheets:
    """The LPC layers, cropped to the nine sheet rows the dataset uses, ready for compositing."""

    def __init__(self, lpc_dir: str | os.PathLike):

        self.lpc_dir = Path(lpc_dir)
        self.rows = sorted({row for per_dir in ROWS.values() for row in per_dir.values()})
        self._row_index = {row: i for i, row in enumerate(self.rows)}
        self.layers: dict[str, list] = {}
        for layer in LAYERS:
            self.layers[layer] = [self._load(f"{layer}/{i}.png") for i in range(NUM_OPTIONS)]
        self.shoes = self._load("shoes/1.png")
        self._canvas = Image.new("RGBA", self.shoes.size, (0, 0, 0, 255))

    def _load(self, rel: str):

        path = self.lpc_dir / rel
        try:
            with Image.open(path) as im:
                im.load()
                rgba = im.convert("RGBA")
        except FileNotFoundError:
            raise DataError(f"missing LPC sheet {path}") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"corrupt or unreadable LPC sheet {path}: {exc}") from None
        if rgba.size != SHEET_SIZE:
            raise DataError(f"LPC sheet {path} is {rgba.size[0]}x{rgba.size[1]}, expected 832x1344")
        strip = [rgba.crop((0, CELL * r, SHEET_SIZE[0], CELL * (r + 1))) for r in self.rows]
        out = Image.new("RGBA", (SHEET_SIZE[0], CELL * len(self.rows)))
        for i, part in enumerate(strip):
            out.paste(part, (0, CELL * i))
        return out

    def character(self, skin: int, pants: int, top: int, hair: int) -> np.ndarray:
        """All 9 clips of one character, uint8 (9, 8, 64, 64, 3), ordered (action, direction)."""

        image = self._canvas
        for layer, option in zip(LAYERS, (skin, pants, top, hair)):
            image = Image.alpha_composite(image, self.layers[layer][option])
        image = Image.alpha_composite(image, self.shoes)
        pixels = np.asarray(image)[..., :3]
        clips = np.empty((len(ACTIONS) * len(DIRECTIONS), FRAMES, CELL, CELL, 3), np.uint8)
        for a, action in enumerate(ACTIONS):
            for d, direction in enumerate(DIRECTIONS):
                y = CELL * self._row_index[ROWS[action][direction]]
                for t, column in enumerate(COLUMNS[action]):
                    clips[action_class(a, d), t] = pixels[y : y + CELL, CELL * column : CELL * (column + 1)]
        return clips


def compose_split(sheets: SpriteSheets, characters: np.ndarray, shuffle: np.ndarray | None) -> dict[str, np.ndarray]:
    """Clips and labels for ``characters``, concatenated per (action, direction) as the original files were.

    Returns uint8 frames (N, 8, 64, 64, 3), int32 static labels (N, 4) and per-frame dynamic labels
    (N, 8, 1), reordered by ``shuffle`` when given (clip i of the result is clip shuffle[i] of the
    concatenation). Clips are written straight to their final place: no second copy of the split.
    """
    pairs = len(ACTIONS) * len(DIRECTIONS)
    count = pairs * len(characters)
    position = np.arange(count) if shuffle is None else np.argsort(shuffle)
    frames = np.empty((count, FRAMES, CELL, CELL, 3), np.uint8)
    static = np.empty((count, len(STATIC_FACTORS)), np.int32)
    dynamic = np.empty((count, FRAMES, 1), np.int32)
    for ci, cid in enumerate(characters):
        factors = character_factors(int(cid))
        clips = sheets.character(*factors)
        for pair in range(pairs):
            where = position[pair * len(characters) + ci]
            frames[where] = clips[pair]
            static[where] = factors
            dynamic[where] = pair
    return {"frames": frames, "static": static, "dynamic": dynamic}


def compose_dataset(
    lpc_dir: str | os.PathLike, train_chars: np.ndarray | None = None, test_chars: np.ndarray | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Both splits, in the original loader's order (pairs concatenated, then shuffled with seed 0).

    The characters default to the seed-423 split; passing subsets builds a smaller dataset the same way.
    """
    sheets = SpriteSheets(lpc_dir)
    default_train, default_test = split_characters()
    train_chars = default_train if train_chars is None else np.asarray(train_chars)
    test_chars = default_test if test_chars is None else np.asarray(test_chars)
    pairs = len(ACTIONS) * len(DIRECTIONS)
    rng = np.random.RandomState(SHUFFLE_SEED)
    train_order = rng.permutation(pairs * len(train_chars))
    test_order = rng.permutation(pairs * len(test_chars))
    return {
        "train": compose_split(sheets, train_chars, train_order),
        "test": compose_split(sheets, test_chars, test_order),
    }


def cache_for(config: DataConfig, data_root: Path) -> ArrayCache:
    """The cache of prepared Sprites arrays, valid for this recipe and these flow-label settings."""
    return ArrayCache(Path(data_root) / "sprite", {"recipe": "lpc-sprites-v1", **flow_params(config)})


def build_splits(
    lpc_dir: str | os.PathLike, config: DataConfig, train_chars: np.ndarray | None = None, test_chars: np.ndarray | None = None
) -> Splits:
    """Compose the clips and compute their flow labels."""
    splits = compose_dataset(lpc_dir, train_chars, test_chars)
    add_flow_labels(splits, config)
    return splits


def prepare(config: DataConfig, data_root: Path) -> Prepared:
    """Compose both splits and their flow labels once; later calls read the verified cache."""
    return cached(
        cache_for(config, data_root),
        lambda: build_splits(resolve_lpc_dir(config.lpc_dir, Path(data_root)), config),
        "Sprites from the LPC sheets",
        sources=lambda: source_files(config, data_root),
    )


SPEC = register(
    DatasetSpec(
        name="sprite",
        frames=FRAMES,
        frame_size=CELL,
        channels=3,
        pixel_scale=256.0,
        static_heads=tuple((f, NUM_OPTIONS) for f in STATIC_FACTORS),
        dynamic_heads=(("action", len(ACTIONS) * len(DIRECTIONS)),),
        dfp_signal="flow",
        prepare=prepare,
        source="Liberated Pixel Cup sheets via github.com/YingzhenLi/Sprites (Li & Mandt 2018)",
        licence="CC-BY-SA 3.0 or GPL 3.0 (LPC art)",
        class_names=(("action", tuple(f"{a}-{d}" for a in ACTIONS for d in DIRECTIONS)),),
    )
)
