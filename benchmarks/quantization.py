"""What quantisation costs in quality: the judge's protocols A and B and swap accuracy of each exported
format on the same real test clips and noise, beside the float32 Keras model, and pixel differences.

    python benchmarks/quantization.py --run runs/cpu-full --export exports/cpu-full --data-dir /tmp/s3data

The export must hold the quantised formats (``python -m export ... --quantize int8,fp16``). Each format
runs its own ``encode`` and ``decode`` (ONNX Runtime, LiteRT) inside the evaluation's protocols
(:func:`s3vae_tf.evaluation.protocols.evaluate_protocols`): protocol A decodes each clip's z_1:T means
(from that format's encoder) with z_f ~ N(0, I); protocol B decodes its z_f mean with a z_1:T path of the
learned prior, which no exported endpoint returns for given noise, so the path comes from the float32
Keras prior (the prior is float32 in the int8 formats too; the fp16 formats store it in float16) and only
the decoding is the format's; swaps decode a's z_1:T with b's z_f. Pixel differences: each format's
``decode`` of the float model's posterior means, and its end-to-end ``swap``, against the float32 Keras
model on the same clips. JSON: benchmarks/results/quantization.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FORMATS = ("keras", "onnx", "onnx_int8", "tflite", "tflite_fp16", "tflite_int8")


class ExportedModel:
    """The encode / decode / generate_from_noise the protocols call, run by one exported format."""

    def __init__(self, fmt: str, export_dir: Path, meta: dict, float_model):
        import numpy as np

        self.fmt, self.float_model, self._np = fmt, float_model, np
        self.f_dim, self.z_dim, self.frames = meta["latents"]["f_dim"], meta["latents"]["z_dim"], meta["frames"]
        self.clip = (meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"])
        if fmt.startswith("onnx"):
            from serving.onnx_runtime import OnnxModel

            model = OnnxModel(export_dir, providers=["CPUExecutionProvider"], precision="int8" if fmt == "onnx_int8" else "float32")
            self._encode = lambda frames: model.run_checked("encode", {"frames": frames})
            self._decode = lambda f, z: model.run_checked("decode", {"z_f": f, "z_t": z})["frames"]
        else:
            from ai_edge_litert.interpreter import Interpreter

            runners = {
                name: Interpreter(model_path=str(export_dir / meta["paths"][fmt][name]), num_threads=os.cpu_count()).get_signature_runner(name)
                for name in ("encode", "decode")
            }
            self._encode = lambda frames: runners["encode"](frames=frames)
            self._decode = lambda f, z: runners["decode"](z_f=f, z_t=z)["frames"]

    # numpy -> tensors with static shapes inside the protocols' tf.function
    def encode(self, frames):
        import tensorflow as tf

        def run(x):
            out = self._encode(self._np.ascontiguousarray(x, self._np.float32))
            return [out[k].astype(self._np.float32) for k in ("f_mean", "f_logvar", "z_mean", "z_logvar")]

        f_mean, f_logvar, z_mean, z_logvar = tf.numpy_function(run, [frames], [tf.float32] * 4)
        f_shape, z_shape = (None, self.f_dim), (None, self.frames, self.z_dim)
        return {"f_mean": tf.ensure_shape(f_mean, f_shape), "f_logvar": tf.ensure_shape(f_logvar, f_shape),
                "z_mean": tf.ensure_shape(z_mean, z_shape), "z_logvar": tf.ensure_shape(z_logvar, z_shape)}

    def decode(self, z_f, z_t):
        import tensorflow as tf

        run = lambda f, z: self._decode(self._np.ascontiguousarray(f), self._np.ascontiguousarray(z)).astype(self._np.float32)  # noqa: E731
        return tf.ensure_shape(tf.numpy_function(run, [z_f, z_t], tf.float32), (None, *self.clip))

    def generate_from_noise(self, f_noise, z_noise, z_f=None, z_t=None, prior_means: bool = False):
        if z_f is None:
            z_f = f_noise
        if z_t is None:
            sampled, means, _ = self.float_model.prior.sample(z_noise)
            z_t = means if prior_means else sampled
        return self.decode(z_f, z_t)


def summary(result: dict) -> dict:
    """The numbers README compares: protocol A / B / swap accuracy and the reconstructions' accuracy."""
    a = {head: round(v["acc"]["mean"], 4) for head, v in result["a"].items()}
    return {
        "a_acc": a,
        "b_all_acc": round(result["b_all"]["acc"]["mean"], 4),
        "b_acc": {head: round(v["acc"]["mean"], 4) for head, v in result["b"].items()},
        "swap_both": round(result["swap"]["both"], 4),
        "swap_motion": round(result["swap"]["motion"], 4),
        "swap_appearance": round(result["swap"]["appearance"], 4),
        "reconstruction_acc": {head: round(v["acc"], 4) for head, v in result["reconstruction"].items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the trained run the export was made from")
    parser.add_argument("--export", type=Path, required=True, help="its export directory, with --quantize int8,fp16")
    parser.add_argument("--data-dir", default="", help="data dir of the test clips and the judge (default: the run's)")
    parser.add_argument("--judge", default="", help="judge path (default: DATA_DIR/judges/<dataset>.keras)")
    parser.add_argument("--clips", type=int, default=512, help="test clips, spread over the split (default 512)")
    parser.add_argument("--repeats", type=int, default=3, help="protocol repeats (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS / "quantization.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(REPO))

    import numpy as np

    from s3vae_tf.evaluation.judge import default_path, load_judge
    from s3vae_tf.evaluation.protocols import LabelledClips, evaluate_protocols
    from s3vae_tf.evaluation.run_data import data_root, test_split
    from s3vae_tf.run_directory import load_trained

    meta = json.loads((args.export / "metadata.json").read_text())
    config, spec, keras_model, _ = load_trained(args.run)
    judge, _ = load_judge(Path(args.judge) if args.judge else default_path(data_root(config, args.data_dir), config.dataset))
    split = test_split(config, args.data_dir)
    index = np.linspace(0, len(split["frames"]) - 1, min(args.clips, len(split["frames"]))).round().astype(int)
    clips = LabelledClips.from_arrays({k: split[k][index] for k in ("frames", "static", "dynamic")}, spec.pixel_scale)
    frames = clips.frames[:64].astype(np.float32) / np.float32(spec.pixel_scale)
    latents = keras_model.encode(frames)
    reference_decode = np.asarray(keras_model.decode(latents["f_mean"], latents["z_mean"]))
    reference_swap = np.asarray(keras_model.swap(frames[:32], frames[32:])[0])

    rows = {}
    for fmt in FORMATS:
        if fmt != "keras" and fmt not in meta["paths"]:
            print(f"{fmt}: not in {args.export}, skipped", flush=True)
            continue
        model = keras_model if fmt == "keras" else ExportedModel(fmt, args.export, meta, keras_model)
        started = time.perf_counter()
        result = evaluate_protocols(model, judge, clips, repeats=args.repeats, seed=0, batch_size=32)
        row = {"seconds": round(time.perf_counter() - started, 1), **summary(result)}
        if fmt != "keras":
            decoded = model._decode(latents["f_mean"].numpy(), latents["z_mean"].numpy())
            swapped = model.decode(model.encode(frames[32:])["f_mean"], model.encode(frames[:32])["z_mean"]).numpy()
            row["pixels_vs_keras"] = {
                "decode_max_abs": float(np.abs(decoded - reference_decode).max()),
                "decode_mean_abs": float(np.abs(decoded - reference_decode).mean()),
                "swap_max_abs": float(np.abs(swapped - reference_swap).max()),
                "swap_mean_abs": float(np.abs(swapped - reference_swap).mean()),
            }
        rows[fmt] = row
        print(fmt, json.dumps(row), flush=True)

    base = rows["keras"]
    for fmt, row in rows.items():
        row["points_lost_vs_keras"] = {
            "a": {h: round(100 * (base["a_acc"][h] - v), 2) for h, v in row["a_acc"].items()},
            "b_all": round(100 * (base["b_all_acc"] - row["b_all_acc"]), 2),
            "swap_both": round(100 * (base["swap_both"] - row["swap_both"]), 2),
        }
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run": str(args.run),
        "export": str(args.export),
        "test_clips": len(clips),
        "repeats": args.repeats,
        "quantization": meta.get("quantization"),
        "pixel_reference": "64 real test clips: decode of the float model's posterior means; swap of clips 0-31 with 32-63",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("| format | protocol A | protocol B (all static) | swap (both) | decode max / mean abs | points lost A / B / swap |")
    print("|---|---|---|---|---|---|")
    for fmt, row in rows.items():
        px = row.get("pixels_vs_keras")
        pixels = f"{px['decode_max_abs']:.4f} / {px['decode_mean_abs']:.5f}" if px else "-"
        lost = row["points_lost_vs_keras"]
        print(f"| {fmt} | {', '.join(f'{v:.1%}' for v in row['a_acc'].values())} | {row['b_all_acc']:.1%} | {row['swap_both']:.1%} "
              f"| {pixels} | {', '.join(str(v) for v in lost['a'].values())} / {lost['b_all']} / {lost['swap_both']} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
