"""``metadata.json``: what an export holds and how to call it; the contract serving and other apps read.

Top-level keys (``schema`` = "s3vae-export/1"):

* ``name``, ``version``: the TF Serving model name and version (``savedmodel/<name>/<version>/``);
* ``dataset``, ``variant``, ``frames`` (clip length T), ``frame_size``, ``channels``, ``pixel_scale``
  (float pixel = uint8 / pixel_scale), ``value_range`` (of dataset frames), ``latents`` (f_dim, z_dim),
  ``labels`` (the dataset's label heads), ``model`` (the architecture: ModelConfig as built), ``config``
  (the training RunConfig);
* ``signatures``: name -> description, ``inputs`` and ``outputs`` (ordered name -> dtype, shape with -1 for
  the batch, range or null; ``image: "clip"`` on string tensors holding one encoded clip each); every input
  is required and all inputs of a call share the batch size; ``default_signature`` (TF Serving's
  serving_default); image signatures (``<name>_images``) name their float signature in ``images_of`` and run
  natively in the SavedModel only (``paths`` lists what each format holds);
* ``images``: how image signatures encode a clip (PNG film strip H x T*W, GIF input, pixel conversion);
* ``formats`` and ``paths`` (format -> directory or signature -> file), ``onnx_opset``;
* ``samples``: [{file, test_index, labels}], real test clips as GIFs;
* ``checkpoint``: the run's checkpoint (path, epoch, sha256 of its files), ``exporter`` versions;
* ``files``: relative path -> sha256 of every file of this export (metadata.json excepted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s3vae_tf.errors import UsageError
from s3vae_tf.io import sha256_file

FILE = "metadata.json"
SCHEMA = "s3vae-export/1"


def identity(meta: dict[str, Any]) -> dict[str, Any]:
    """What makes two exports the same model (versions of one model may differ in weights, not in this)."""
    architecture = {k: v for k, v in meta.get("model", {}).items() if k != "unroll"}
    return {
        "name": meta.get("name"),
        "dataset": meta.get("dataset"),
        "variant": meta.get("variant"),
        "frames": meta.get("frames"),
        "channels": meta.get("channels"),
        "architecture": architecture,
    }


def read(directory: Path) -> dict[str, Any] | None:
    """The metadata of an export directory, None if it has none, a UsageError if it cannot be read."""
    path = Path(directory) / FILE
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise UsageError(f"{path} is not the metadata of an s3vae export (schema {SCHEMA})")
    return meta


def checksums(root: Path, relative_paths: list[str]) -> dict[str, str]:
    """Relative path -> sha256 of each file, sorted."""
    return {rel: sha256_file(Path(root) / rel) for rel in sorted(relative_paths)}


def files_under(root: Path, relative_dir: str) -> list[str]:
    """Relative paths of every file below ``root / relative_dir``."""
    base = Path(root)
    return [p.relative_to(base).as_posix() for p in sorted((base / relative_dir).rglob("*")) if p.is_file()]


def dumps(meta: dict[str, Any]) -> str:
    return json.dumps(meta, indent=2, sort_keys=False) + "\n"
