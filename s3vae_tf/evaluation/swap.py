"""``python -m s3vae_tf.swap --run RUN_DIR``: swap and generation pictures of a trained run.

Writes, for test clips of the run's dataset, each picture of :mod:`s3vae_tf.pictures.figures` as a
PNG grid (one clip per row of frames) and an animated GIF (the same table, playing) into
``RUN_DIR/pictures`` (or ``--out-dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from s3vae_tf import cli
from s3vae_tf.errors import UsageError
from s3vae_tf.evaluation.run_data import test_split
from s3vae_tf.io import atomic_write_bytes
from s3vae_tf.pictures.grids import save_png


def build_parser():
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.swap",
        description="Draw swaps between test clips and generations with fixed appearance / fixed motion (PNG + GIF).",
    )
    cli.add_run_flags(parser)
    parser.add_argument("--out-dir", default="", help="where the pictures go (default: RUN_DIR/pictures)")
    parser.add_argument("--clips", type=int, default=6, metavar="INT", help="test clips to draw (default: 6; swaps pair halves)")
    parser.add_argument("--first", type=int, default=0, metavar="INT", help="index of the first test clip (default: 0)")
    parser.add_argument("--samples", type=int, default=4, metavar="INT", help="generations per clip (default: 4)")
    parser.add_argument("--scale", type=int, default=1, metavar="INT", help="pixel upscaling of the images (default: 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.clips < 2:
        raise UsageError("--clips must be at least 2 (swaps pair clips)")
    for name in ("samples", "scale"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1")
    if args.first < 0:
        raise UsageError("--first must not be negative")
    # TensorFlow loads only now, once the input is valid: its start-up log reaches stderr whatever the log level, so
    # bad input must fail before it (one line, see s3vae_tf.cli)
    from s3vae_tf.pictures.figures import as_gif, as_png, pictures
    from s3vae_tf.run_directory import load_trained, open_run

    run_dir = Path(args.run)
    open_run(run_dir)
    config, spec, model, epochs = load_trained(run_dir)
    frames = test_split(config, args.data_dir)["frames"]
    if args.first + args.clips > len(frames):
        raise UsageError(f"--first {args.first} + --clips {args.clips} exceeds the {len(frames)} test clips")
    clips = frames[args.first : args.first + args.clips].astype("float32") / spec.pixel_scale
    out_dir = Path(args.out_dir) if args.out_dir else run_dir / "pictures"
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} exists and is not a directory")
    written = []
    for name, table in pictures(model, clips, args.samples, args.seed).items():
        save_png(out_dir / f"{name}.png", as_png(table), scale=args.scale)
        atomic_write_bytes(out_dir / f"{name}.gif", as_gif(table, scale=args.scale))
        written += [f"{name}.png", f"{name}.gif"]
    print(f"{run_dir} ({spec.name}, {config.variant}, {epochs} epochs): wrote {', '.join(written)} to {out_dir}")
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="s3vae_tf.swap")
