"""``python -m export --run RUN_DIR --out DIR``: write a trained run as SavedModel, ONNX and TFLite."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from export.exporter import FORMATS, SCHEMES, ExportRequest, export_run, parse_formats, parse_quantize
from s3vae_tf import cli
from s3vae_tf.errors import UsageError


def build_parser() -> argparse.ArgumentParser:

    parser = cli.ArgumentParser(
        prog="export",
        description=(
            "python -m export: export a trained run: DIR/savedmodel/NAME/VERSION (TF Serving), DIR/onnx/*.onnx, DIR/tflite/*.tflite, "
            "DIR/samples/*.gif and DIR/metadata.json."
        ),
    )
    parser.add_argument("--run", required=True, type=Path, metavar="RUN_DIR", help="a run directory with a checkpoint")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="export directory (new, empty, or an export of the same model)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    parser.add_argument(
        "--quantize",
        default="",
        metavar="SCHEMES",
        help=f"also write quantised models, comma-separated from {','.join(SCHEMES)}: int8 -> DIR/onnx_int8, DIR/tflite_int8 "
        "(calibrated on training clips), fp16 -> DIR/tflite_fp16 (default: none)",
    )
    parser.add_argument("--version", type=int, default=1, help="TF Serving model version (default: 1)")
    parser.add_argument("--name", default="s3vae", help="TF Serving model name (default: s3vae)")
    parser.add_argument("--samples", type=int, default=6, help="real test clips written as GIFs (default: 6; 0 = none)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing SavedModel version directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:

    args = build_parser().parse_args(argv)
    if args.samples < 0:
        raise UsageError("--samples must not be negative")
    request = ExportRequest(
        run_dir=args.run,
        out=args.out,
        formats=parse_formats(args.formats),
        version=args.version,
        name=args.name,
        samples=args.samples,
        overwrite=args.overwrite,
        quantize=parse_quantize(args.quantize),
    )
    export_run(request)
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="export")
