"""``python -m serving.examples --export-dir DIR --out REQ_DIR``: request bodies for curl, one per signature.

The clips of a swap or encode request are 8 x 64 x 64 x 3 numbers each, too many to type, so this writes
ready-made TF Serving predict bodies built from the export's sample GIFs (random clips when it has none):

* ``swap.json`` (columnar) and ``swap_rows.json`` (row format): sample 0 with sample 1;
* ``encode.json``: samples 0 and 1;
* ``decode.json``: two latent pairs drawn from N(0, I) (seed 0);
* ``generate.json``: seeds 7 and 8, nothing fixed;
* ``swap_images.json``: the image form of ``swap.json``, the two GIFs as ``{"b64": ...}`` (a few kB,
  not megabytes), answered with two PNG film strips.

Then ``curl -d @REQ_DIR/swap.json http://127.0.0.1:8501/v1/models/NAME:predict`` works against TF Serving and
the embedded server alike.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from s3vae_tf import cli
from s3vae_tf.errors import UsageError
from s3vae_tf.io import atomic_write_text
from serving.clip_images import film_strip_png, to_pixels
from serving.onnx_runtime import ExportError, load_metadata, read_gif


def clips(export_dir: Path, meta: dict[str, Any]) -> np.ndarray:
    """Two clips as model inputs: the first two sample GIFs, or uniform random clips (seed 0)."""

    samples = [export_dir / s["file"] for s in meta.get("samples", [])[:2]]
    if len(samples) == 2 and all(path.is_file() for path in samples):
        return np.stack([read_gif(path) for path in samples]) / float(meta["pixel_scale"])
    shape = (2, meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def encoded(export_dir: Path, meta: dict[str, Any], pixels: np.ndarray) -> list[str]:
    """The two clips as base64 text: the sample GIFs' bytes when they exist, else PNG film strips of ``pixels``."""

    samples = [export_dir / s["file"] for s in meta.get("samples", [])[:2]]
    if len(samples) == 2 and all(path.is_file() for path in samples):
        data = [path.read_bytes() for path in samples]
    else:
        data = [film_strip_png(clip) for clip in to_pixels(pixels, meta["pixel_scale"])]
    return [base64.b64encode(item).decode("ascii") for item in data]


def bodies(export_dir: Path) -> dict[str, dict[str, Any]]:
    """File name -> predict request body."""

    try:
        meta = load_metadata(export_dir)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    pixels = clips(export_dir, meta).astype(np.float32)
    a, b = pixels.tolist()
    a_image, b_image = encoded(export_dir, meta, pixels)
    f_dim, z_dim, frames = meta["latents"]["f_dim"], meta["latents"]["z_dim"], meta["frames"]
    rng = np.random.default_rng(0)
    return {
        "swap.json": {"signature_name": "swap", "inputs": {"clip_a": [a], "clip_b": [b]}},
        "swap_rows.json": {"signature_name": "swap", "instances": [{"clip_a": a, "clip_b": b}]},
        "encode.json": {"signature_name": "encode", "inputs": {"frames": [a, b]}},
        "decode.json": {
            "signature_name": "decode",
            "inputs": {
                "z_f": rng.standard_normal((2, f_dim)).astype(np.float32).tolist(),
                "z_t": rng.standard_normal((2, frames, z_dim)).astype(np.float32).tolist(),
            },
        },
        "generate.json": {
            "signature_name": "generate",
            "inputs": {
                "seed": [7, 8],
                "z_f": [[0.0] * f_dim] * 2,
                "z_t": [[[0.0] * z_dim] * frames] * 2,
                "fix_z_f": [False, False],
                "fix_z_t": [False, False],
            },
        },
        "swap_images.json": {
            "signature_name": "swap_images",
            "inputs": {"clip_a_bytes": [{"b64": a_image}], "clip_b_bytes": [{"b64": b_image}]},
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="serving.examples", description=__doc__.splitlines()[0])
    parser.add_argument("--export-dir", required=True, type=Path, metavar="DIR", help="a directory written by python -m export")
    parser.add_argument("--out", required=True, type=Path, metavar="REQ_DIR", help="where to write the request bodies")
    args = parser.parse_args(argv)
    for name, body in bodies(args.export_dir).items():
        atomic_write_text(args.out / name, json.dumps(body))
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="serving.examples"))
