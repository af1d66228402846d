"""Export a trained run: SavedModel, ONNX and TFLite endpoints, sample clips and metadata.json.

Every check that needs no TensorFlow (run directory, checkpoint, output directory, version, sample data)
runs first, so bad input fails in a second. Then the model is loaded once (``unroll=True``), its four
endpoints are traced once (:mod:`export.signatures`) and written to each requested format in a staging
directory that is renamed into place only when everything succeeded (:mod:`export.layout`).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from importlib import metadata as dist
from pathlib import Path
from typing import Any, Callable

from export import layout, metadata, samples
from s3vae_tf.config import ModelConfig, RunConfig, has_encoder
from s3vae_tf.data import registry
from s3vae_tf.data.registry import DatasetSpec
from s3vae_tf.errors import UsageError
from s3vae_tf.io import atomic_write_text, sha256_file

FORMATS = ("savedmodel", "onnx", "tflite")
# --quantize SCHEMES adds these next to their float format (export.quantize; the names double as directories)
QUANTIZED_FORMATS = {"onnx_int8": ("onnx", "int8"), "tflite_int8": ("tflite", "int8"), "tflite_fp16": ("tflite", "fp16")}
SCHEMES = ("int8", "fp16")
FILE_FORMATS = ("onnx", "tflite", *QUANTIZED_FORMATS)  # one file per signature, in a directory named like the format
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclasses.dataclass
class ExportRequest:
    """What to export where (the command's flags)."""

    run_dir: Path
    out: Path
    formats: tuple[str, ...] = FORMATS
    version: int = 1
    name: str = "s3vae"
    samples: int = 6
    overwrite: bool = False
    quantize: tuple[str, ...] = ()  # schemes: "int8" (ONNX and TFLite), "fp16" (TFLite)

    @property
    def quantized_formats(self) -> tuple[str, ...]:
        """The quantised formats ``quantize`` adds to the float formats being exported."""
        return tuple(f for f, (base, scheme) in QUANTIZED_FORMATS.items() if scheme in self.quantize and base in self.formats)


def parse_formats(text: str) -> tuple[str, ...]:
    """``"onnx,tflite"`` -> ("onnx", "tflite") in canonical order; unknown or empty lists are usage errors."""
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        raise UsageError(f"unknown format {', '.join(map(repr, unknown))}; choose from {', '.join(FORMATS)}")
    if not chosen:
        raise UsageError(f"no format given; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in chosen)


def parse_quantize(text: str) -> tuple[str, ...]:
    """``"int8,fp16"`` -> ("int8", "fp16"); ``""`` -> (); unknown schemes are usage errors."""
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SCHEMES))
    if unknown:
        raise UsageError(f"unknown --quantize {', '.join(map(repr, unknown))}; choose from {', '.join(SCHEMES)}")
    return tuple(s for s in SCHEMES if s in chosen)


def _checkpoint_prefix(run_dir: Path) -> Path:
    """The latest checkpoint's path prefix, read from the ``checkpoint`` index without TensorFlow."""
    index = run_dir / "checkpoints" / "checkpoint"
    match = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', index.read_text(), re.M) if index.is_file() else None
    if match is None:
        raise UsageError(f"run directory {run_dir} has no checkpoint yet (train it first)")
    prefix = Path(match.group(1))
    prefix = prefix if prefix.is_absolute() else index.parent / prefix
    if not list(prefix.parent.glob(prefix.name + ".*")):
        raise UsageError(f"run directory {run_dir}: checkpoint {prefix.name} is listed but its files are missing")
    return prefix


def _architecture(config: RunConfig, spec: DatasetSpec) -> dict[str, Any]:
    """The ModelConfig the model is built with (frames and channels come from the dataset)."""
    model = {**config.to_dict()["model"], "frames": spec.frames, "channels": spec.channels}
    model.pop("unroll")
    return model


def _check_out_dir(request: ExportRequest, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The previous export's metadata in ``out`` (None if new), or a UsageError if ``out`` is not ours to write."""
    out = request.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if not out.exists():
        return None
    previous = metadata.read(out)
    if previous is None:
        if not layout.is_empty(out):
            raise UsageError(f"--out {out} is not empty and holds no {metadata.FILE}: choose an empty or new directory")
        return None
    old = _with_new_defaults(metadata.identity(previous), identity)
    if old != identity:
        diffs = [k for k in identity if old.get(k) != identity[k]]
        if "architecture" in diffs:
            keys = sorted(set(old["architecture"]) | set(identity["architecture"]))
            diffs += [f"model.{k}" for k in keys if old["architecture"].get(k) != identity["architecture"].get(k)][:3]
            diffs.remove("architecture")
        raise UsageError(
            f"--out {out} holds a different model ({old.get('name')!r}, {old.get('dataset')}, {old.get('variant')}; "
            f"differs in {', '.join(diffs)}): choose another --out"
        )
    version_dir = out / layout.savedmodel_dir(request.name, request.version)
    if "savedmodel" in request.formats and version_dir.exists() and not request.overwrite:
        raise UsageError(f"{version_dir} already exists: pass --version {_next_version(out, request.name)} (or --overwrite)")
    return previous


def _with_new_defaults(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` identity with the model settings added since it was written at their defaults (which is what
    a model of that time was built with), so an export of the same model compares equal."""
    defaults = dataclasses.asdict(ModelConfig())
    architecture = dict(old.get("architecture") or {})
    for key in set(new.get("architecture") or {}) - set(architecture):
        if key in defaults:
            architecture[key] = defaults[key]
    return {**old, "architecture": architecture} if "architecture" in old else old


def _next_version(out: Path, name: str) -> int:
    versions = [int(p.name) for p in (out / "savedmodel" / name).iterdir() if p.name.isdigit()]
    return max(versions, default=0) + 1


def _load_calibration(config: RunConfig, request: ExportRequest) -> dict | None:
    """The training split (quantised formats are calibrated on its clips), or None when nothing is quantised."""
    if not request.quantize:
        return None
    if not request.quantized_formats:
        raise UsageError(f"--quantize {','.join(request.quantize)} needs --formats with onnx (int8) or tflite (int8, fp16)")
    try:
        return registry.load(config.dataset, config.data)["train"]
    except UsageError as exc:
        raise UsageError(f"cannot read the training clips that --quantize calibrates on: {exc}") from None


def _load_samples(config: RunConfig, count: int) -> dict | None:
    if count <= 0:
        return None
    try:
        return registry.load(config.dataset, config.data)["test"]
    except UsageError as exc:
        raise UsageError(f"cannot read the test clips for --samples: {exc}; pass --samples 0 to export without them") from None


def _versions() -> dict[str, str]:

    out = {}
    for package in ("s3vae-tf", "tensorflow", "keras", "tf2onnx", "onnx"):
        try:
            out[package] = dist.version(package)
        except dist.PackageNotFoundError:
            continue
    return out


def _step(what: str, action: Callable[[], Any]) -> Any:
    """Run one conversion; a failure becomes one line naming the step."""
    try:
        return action()
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001  (converters raise anything; report it in one line)
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise UsageError(f"{what} failed: {exc.__class__.__name__}: {first[:300]}") from exc


def export_run(request: ExportRequest, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the export described by ``request``; return its metadata."""
    request = dataclasses.replace(request, run_dir=Path(request.run_dir), out=Path(request.out))
    run_dir, out = request.run_dir, request.out
    if not NAME_PATTERN.fullmatch(request.name):
        raise UsageError(f"--name {request.name!r} must be letters, digits, '.', '_' or '-' (it is a directory name)")
    if request.version < 1:
        raise UsageError("--version must be a positive integer")
    parse_formats(",".join(request.formats))  # the same checks for callers of this function
    parse_quantize(",".join(request.quantize))
    if not run_dir.is_dir():
        raise UsageError(f"run directory {run_dir} does not exist")
    if not (run_dir / "config.json").is_file():
        raise UsageError(f"{run_dir} is not a run directory (no config.json)")
    config = RunConfig.load(run_dir / "config.json")
    if not has_encoder(config.variant):
        raise UsageError(f"{run_dir} is a {config.variant} run: a generator without an encoder has no encode/decode/swap to export")
    spec = registry.get(config.dataset)
    prefix = _checkpoint_prefix(run_dir)
    architecture = _architecture(config, spec)
    meta: dict[str, Any] = {
        "schema": metadata.SCHEMA,
        "name": request.name,
        "version": request.version,
        "dataset": config.dataset,
        "variant": config.variant,
        "frames": spec.frames,
        "frame_size": spec.frame_size,
        "channels": spec.channels,
        "pixel_scale": spec.pixel_scale,
        "value_range": list(spec.value_range),
        "latents": {"f_dim": architecture["f_dim"], "z_dim": architecture["z_dim"]},
        "labels": {"static": [list(h) for h in spec.static_heads], "dynamic": [list(h) for h in spec.dynamic_heads]},
        "model": architecture,
        "config": config.to_dict(),
    }
    layout.recover(out, log)
    previous = _check_out_dir(request, metadata.identity(meta))
    test_split = _load_samples(config, request.samples)
    train_split = _load_calibration(config, request)

    log(f"loading {run_dir} ({prefix.name})")
    # TensorFlow loads only now, once the input is valid: its start-up log reaches stderr whatever the log level, so
    # bad input must fail before it (one line, see s3vae_tf.cli)
    from export import signatures
    from s3vae_tf.run_directory import load_trained

    _, _, model, epoch = load_trained(run_dir, unroll=True)
    module = signatures.ExportModule(model, spec.pixel_scale)
    meta["signatures"] = signatures.describe(module)
    meta["default_signature"] = signatures.DEFAULT
    meta["images"] = signatures.image_format(model.model_config, spec.pixel_scale)
    meta["checkpoint"] = {
        "path": str(prefix.resolve()),
        "epoch": epoch,
        "sha256": {p.name: sha256_file(p) for p in sorted(prefix.parent.glob(prefix.name + ".*"))},
    }

    with layout.staging(out) as stage:
        written, paths = _write_formats(module, request, stage, log)
        if train_split is not None:
            meta["quantization"] = _write_quantized(module, request, train_split, spec.pixel_scale, stage, paths, log)
            written.update({fmt: fmt for fmt in request.quantized_formats})
        samples: list[dict] = []
        if test_split is not None:
            samples = _write_samples(test_split, request.samples, meta["labels"], stage)
            written["samples"] = "samples"
            log(f"samples -> {out / 'samples'} ({len(samples)} clips)")
        files: dict[str, str] = {}
        for rel in written.values():
            files.update(metadata.checksums(stage, metadata.files_under(stage, rel)))
        kept = _kept_from(previous, meta, request, written)
        for key, (path_entry, kept_files) in kept.items():
            if key == "samples":
                samples = previous["samples"]
            else:
                paths[key] = path_entry
            if key in QUANTIZED_FORMATS:
                meta.setdefault("quantization", {})[key] = previous["quantization"][key]
            files.update(kept_files)
        meta["formats"] = [f for f in (*FORMATS, *QUANTIZED_FORMATS) if f in paths]
        meta["paths"] = paths
        if "onnx" in written:
            from export.onnx_export import OPSET  # loads TensorFlow: only once the export is under way (see export_run)

            meta["onnx_opset"] = OPSET
        elif "onnx" in kept:
            meta["onnx_opset"] = previous.get("onnx_opset")
        meta["samples"] = samples
        meta["exporter"] = _versions()
        meta["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        meta["files"] = dict(sorted(files.items()))

        text = metadata.dumps(meta)
        with layout.publishing(out, list(written.values()), text):
            for rel in written.values():
                layout.move_into_place(stage, rel, out)
            for key in (*FILE_FORMATS, "samples"):  # their directories are named like them
                if key not in written and key not in kept and (out / key).exists():
                    log(f"removing {out / key}: it does not belong to this export")
                    layout.remove(out, key)
            atomic_write_text(out / metadata.FILE, text)
    log(f"wrote {out / metadata.FILE}")
    return meta


def _write_formats(module, request: ExportRequest, stage: Path, log: Callable[[str], None]) -> tuple[dict[str, str], dict[str, Any]]:
    """Write each requested format into ``stage``: (format -> relative directory, metadata ``paths``)."""
    from export import onnx_export, savedmodel, signatures, tflite_export  # TensorFlow: see export_run

    written: dict[str, str] = {}
    paths: dict[str, Any] = {}
    if "savedmodel" in request.formats:
        rel = layout.savedmodel_dir(request.name, request.version)
        log(f"savedmodel -> {request.out / rel}")
        _step("SavedModel export", lambda: savedmodel.save(module, stage / rel))
        written["savedmodel"] = paths["savedmodel"] = rel

    def onnx_file(name: str, path: Path) -> None:
        onnx_export.convert(module.function(name), name, path, signatures.DESCRIPTIONS[name])

    def tflite_file(name: str, path: Path) -> None:
        tflite_export.convert(module.function(name), name, path, stage / ".work" / name)

    for fmt, label, write in (("onnx", "ONNX", onnx_file), ("tflite", "TFLite", tflite_file)):
        if fmt not in request.formats:
            continue
        (stage / fmt).mkdir()  # DIR/onnx/<signature>.onnx, DIR/tflite/<signature>.tflite
        paths[fmt] = {}
        for name in signatures.NAMES:
            rel = f"{fmt}/{name}.{fmt}"
            log(f"{fmt} {name} -> {request.out / rel}")
            _step(f"{label} export of {name}", lambda: write(name, stage / rel))
            paths[fmt][name] = rel
        written[fmt] = fmt
    return written, paths


def _write_quantized(module, request: ExportRequest, train_split: dict, pixel_scale: float, stage: Path,
                     paths: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Write each quantised format of ``request`` into ``stage`` (adding to ``paths``); return their metadata."""
    from export import quantize, signatures, tflite_export

    clips = quantize.calibration_clips(train_split["frames"], pixel_scale)
    log(f"calibrating the quantised formats on {len(clips)} training clips")
    feeds = quantize.calibration_feeds(module, clips)
    described: dict[str, Any] = {}
    for fmt in request.quantized_formats:
        base, scheme = QUANTIZED_FORMATS[fmt]
        (stage / fmt).mkdir()
        paths[fmt] = {}
        for name in signatures.NAMES:
            rel = f"{fmt}/{name}.{base}"
            log(f"{fmt} {name} -> {request.out / rel}")
            if base == "onnx":
                _step(f"int8 quantisation of ONNX {name}", lambda: quantize.quantize_onnx(stage / paths["onnx"][name], feeds[name], stage / rel))
            else:
                _step(f"{scheme} quantisation of TFLite {name}", lambda: tflite_export.convert(
                    module.function(name), name, stage / rel, stage / ".work" / f"{fmt}-{name}", scheme, feeds[name]))
            paths[fmt][name] = rel
        described[fmt] = {
            "from": base,
            "scheme": scheme,
            "description": quantize.DESCRIPTIONS[fmt],
            "calibration": {"split": "train", "clips": len(clips)} if scheme == "int8" else None,
        }
    return described


def _write_samples(test_split: dict, count: int, labels: dict, stage: Path) -> list[dict]:

    (stage / "samples").mkdir()
    indices = samples.pick(count, len(test_split["frames"]))
    return samples.write(stage / "samples", test_split["frames"], test_split["static"], test_split["dynamic"], indices, labels)


def _kept_from(previous: dict | None, meta: dict, request: ExportRequest, written: dict[str, str]) -> dict[str, tuple]:
    """Formats (and samples) of the previous export that this one does not rewrite but may keep listing.

    A format is kept when it was exported from the same checkpoint and its files still match their
    checksums; samples are kept when they are intact (same dataset, by identity).
    """
    if previous is None:
        return {}
    kept = {}
    same_weights = previous.get("checkpoint", {}).get("sha256") == meta["checkpoint"]["sha256"]
    old_files = previous.get("files", {})
    old_paths = previous.get("paths", {})
    candidates = [f for f in FILE_FORMATS if f not in written and same_weights and f in old_paths]
    if "savedmodel" not in written and same_weights and old_paths.get("savedmodel") == layout.savedmodel_dir(request.name, request.version):
        candidates.append("savedmodel")
    if "samples" not in written and previous.get("samples"):
        candidates.append("samples")
    for key in candidates:
        entry = old_paths.get(key)
        prefix = (entry if key == "savedmodel" else key) + "/"
        ours = {rel: digest for rel, digest in old_files.items() if rel.startswith(prefix)}
        if ours and all((request.out / rel).is_file() and sha256_file(request.out / rel) == digest for rel, digest in ours.items()):
            kept[key] = (entry, ours)
    return kept
