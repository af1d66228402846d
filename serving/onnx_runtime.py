"""Run an s3vae export with onnxruntime: numpy in, numpy out, no TensorFlow (Pillow for images).

::

    from serving.onnx_runtime import OnnxModel, read_gif

    model = OnnxModel("exports/sprite")          # reads metadata.json, checks the ONNX files' sha256
    a = read_gif("exports/sprite/samples/00.gif") / model.pixel_scale   # (T, H, W, C) float32
    b = read_gif("exports/sprite/samples/01.gif") / model.pixel_scale
    a_with_b, b_with_a = model.swap(a[None], b[None])
    latents = model.encode(a[None])               # f_mean, f_logvar, z_mean, z_logvar
    clips = model.generate(count=4, seed=7)["frames"]
    pngs = model.run("swap_images", {"clip_a_bytes": [gif_a], "clip_b_bytes": [gif_b]})   # PNG film strips

The image signatures (``*_images``: clips as PNG film strips or GIFs in ``*_bytes`` string tensors) run the
float ONNX model between Pillow's decoding and encoding (:mod:`serving.clip_images`), with the same pixels as
the SavedModel's own image graph. Inputs are checked against the signatures in ``metadata.json`` before they reach onnxruntime (names,
dtype, shape, one batch size for all inputs, finite values, value range), and a bad one raises
:class:`InputError` with a one-line message naming the input. :func:`check_inputs` does the same for any
caller (the REST server uses it). This module imports only the standard library, numpy, onnxruntime and
:mod:`serving.clip_images` (numpy and Pillow), so other applications can copy the two files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnxruntime as ort

from serving import clip_images

SCHEMA = "s3vae-export/1"
METADATA = "metadata.json"
# precision -> the export's ONNX format; "auto" takes the first the export has: on the 2-core x86 CPU with VNNI
# README measures, the int8 swap is 1.6x float32 (2.5x on one thread) within 1 point of judge accuracy ("Speed")
PRECISIONS = {"int8": "onnx_int8", "float32": "onnx"}
AUTO_ORDER = ("int8", "float32")
log = logging.getLogger(__name__)


class ExportError(Exception):
    """The export directory is missing, incomplete, corrupt, or has no ONNX models."""


class InputError(ValueError):
    """Inputs that do not match a signature; the message names the input and what is wrong."""


def load_metadata(export_dir: str | Path) -> dict[str, Any]:
    """The parsed ``metadata.json`` of an export directory (ExportError if absent or not an s3vae export)."""
    path = Path(export_dir) / METADATA
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExportError(f"{export_dir} is not an export directory (no {METADATA})") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise ExportError(f"{path} is not the metadata of an s3vae export (schema {SCHEMA})")
    return meta


def default_providers() -> list[str]:
    """CUDA first when onnxruntime-gpu provides it, always CPU as the fallback."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider",) if p in available] + ["CPUExecutionProvider"]


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join("batch" if d == -1 else str(d) for d in shape) + ")"


def _as_strings(name: str, value: Any) -> np.ndarray:
    """``value`` (a sequence of bytes) as a 1-D object array of bytes (numpy's fixed-width ``S`` arrays
    would drop trailing zero bytes, which image files may end with)."""
    if isinstance(value, (bytes, bytearray, str)):
        raise InputError(f"{name}: expected a sequence of byte strings (one per clip), got a single {type(value).__name__}")
    array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind not in "OS" or array.ndim != 1:
        raise InputError(f"{name}: expected a sequence of byte strings (one per clip), got {array.dtype} {array.shape}")
    items = list(value) if array.dtype.kind == "O" else [bytes(item) for item in value]
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        if not isinstance(item, (bytes, bytearray)) or not item:
            raise InputError(f"{name}[{i}]: expected non-empty bytes, got {type(item).__name__}")
        out[i] = bytes(item)
    return out


def _as_array(name: str, value: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """``value`` as an array of the spec's dtype; lossless conversions only (e.g. float64 -> float32)."""
    if spec["dtype"] == "string":
        return _as_strings(name, value)
    dtype = np.dtype(spec["dtype"])
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: cannot be read as an array ({exc})") from None
    kind = array.dtype.kind
    if dtype.kind == "f":
        if kind != "f":
            hint = " (uint8 pixels: divide by pixel_scale first)" if kind in "ui" and array.ndim >= 4 else ""
            raise InputError(f"{name}: expected floating-point values ({dtype}), got {array.dtype}{hint}")
        if not np.all(np.isfinite(array)):
            raise InputError(f"{name}: contains NaN or infinite values")
        return array.astype(dtype, copy=False)
    if dtype.kind in "iu":
        if kind not in "iu":
            raise InputError(f"{name}: expected integers ({dtype}), got {array.dtype}")
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise InputError(f"{name}: values must fit {dtype}")
        return array.astype(dtype, copy=False)
    if dtype.kind == "b":
        if kind != "b":
            raise InputError(f"{name}: expected booleans (true/false), got {array.dtype}")
        return array
    raise InputError(f"{name}: unsupported dtype {dtype} in the signature")


def check_inputs(signature: Mapping[str, Any], inputs: Mapping[str, Any], signature_name: str = "") -> dict[str, np.ndarray]:
    """Validate ``inputs`` against one signature of metadata.json; return them as arrays of the right dtype.

    Raises InputError for: unknown or missing names, a wrong dtype (integers for floats, floats for
    integers, anything but booleans for booleans), a wrong rank or size, inputs whose batch sizes differ,
    an empty batch, NaN/Inf, and values outside the signature's range.
    """
    where = f"{signature_name}: " if signature_name else ""
    specs = signature["inputs"]
    unknown = sorted(set(inputs) - set(specs))
    if unknown:
        raise InputError(f"{where}unknown input {', '.join(unknown)}; expected {', '.join(specs)}")
    missing = [name for name in specs if name not in inputs]
    if missing:
        raise InputError(f"{where}missing input {', '.join(missing)}; expected {', '.join(specs)}")
    arrays, batch = {}, None
    for name, spec in specs.items():
        array = _as_array(f"{where}{name}", inputs[name], spec)
        shape = spec["shape"]
        if array.ndim != len(shape) or any(want not in (-1, got) for want, got in zip(shape, array.shape)):
            raise InputError(f"{where}{name}: expected shape {_shape_text(shape)}, got {tuple(array.shape)}")
        if array.shape[0] == 0:
            raise InputError(f"{where}{name}: the batch is empty")
        if batch is not None and array.shape[0] != batch[1]:
            raise InputError(f"{where}{name} has batch size {array.shape[0]} but {batch[0]} has {batch[1]}")
        batch = batch or (name, array.shape[0])
        value_range = spec.get("range")
        if value_range is not None and array.dtype.kind != "b":
            low, high = value_range
            if array.min() < low or array.max() > high:
                got = [v if array.dtype.kind in "iu" else f"{v:.6g}" for v in (array.min(), array.max())]
                raise InputError(f"{where}{name}: values must lie in [{low}, {high}], got [{got[0]}, {got[1]}]")
        arrays[name] = array
    return arrays


class OnnxModel:
    """The ONNX models of one export, checked against their metadata, with one session per signature.

    Args:
        export_dir: a directory written by ``python -m export`` with the onnx format.
        providers: onnxruntime execution providers (default: CUDA when available, else CPU).
        verify: compare each ONNX file's sha256 with metadata.json before loading it.
        threads: onnxruntime intra-op threads (default: onnxruntime's choice, one per physical core).
        precision: ``"auto"`` (default: the int8 models when the export has them, ``--quantize int8``, else
            float32), ``"int8"`` or ``"float32"``. ``model.precision`` and ``model.format`` say which were loaded.
        spin: let idle worker threads spin-wait for work (onnxruntime's default). Off here: spinning
            threads burn the cores that other processes (a web server, other models) need; on an idle,
            dedicated machine turning it on can save a little latency.
    """

    def __init__(
        self,
        export_dir: str | Path,
        providers: Sequence[str] | None = None,
        verify: bool = True,
        threads: int | None = None,
        spin: bool = False,
        precision: str = "auto",
    ):
        self.export_dir = Path(export_dir)
        self.metadata = load_metadata(self.export_dir)
        self.precision, self.format = self._choose(precision)
        paths = self.metadata["paths"][self.format]
        log.info("%s: %s ONNX models (%s)", self.export_dir, self.precision, self.format)
        self.paths = {name: self.export_dir / rel for name, rel in paths.items()}
        self.providers = list(providers) if providers is not None else default_providers()
        self.verify = verify
        self.threads = threads
        self.spin = spin
        self._sessions: dict[str, ort.InferenceSession] = {}
        for name, path in self.paths.items():
            if not path.is_file():
                raise ExportError(f"{path} is missing (export {self.export_dir} again)")

    def _choose(self, precision: str) -> tuple[str, str]:
        """(precision, format) to load: the one asked for, or under "auto" the first of AUTO_ORDER present."""
        available = self.metadata.get("paths", {})
        if precision == "auto":
            for candidate in AUTO_ORDER:
                if available.get(PRECISIONS[candidate]):
                    return candidate, PRECISIONS[candidate]
            raise ExportError(f"{self.export_dir} has no ONNX models (export it with --formats onnx)")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be auto, {' or '.join(PRECISIONS)}; got {precision!r}")
        if not available.get(PRECISIONS[precision]):
            how = "--quantize int8" if precision == "int8" else "--formats onnx"
            raise ExportError(f"{self.export_dir} has no {precision} ONNX models (export it with {how})")
        return precision, PRECISIONS[precision]

    # ------------------------------------------------------------------------------ description

    @property
    def loaded(self) -> str:
        """Which models this instance runs, in words (for logs and status pages)."""
        quantization = self.metadata.get("quantization", {}).get(self.format)
        return f"{self.format} ({quantization['description']})" if quantization else f"{self.format} (float32)"

    @property
    def signatures(self) -> dict[str, Any]:
        return self.metadata["signatures"]

    @property
    def pixel_scale(self) -> float:
        """uint8 pixels / pixel_scale = the model's float frames."""
        return float(self.metadata["pixel_scale"])

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        m = self.metadata
        return m["frames"], m["frame_size"], m["frame_size"], m["channels"]

    def session(self, signature: str) -> ort.InferenceSession:
        """The onnxruntime session of one signature, created (and verified) on first use."""
        if signature not in self.paths:
            raise InputError(f"unknown signature {signature!r}; choose one of {', '.join(self.paths)}")
        if signature not in self._sessions:
            path = self.paths[signature]
            data = path.read_bytes()
            if self.verify:
                rel = path.relative_to(self.export_dir).as_posix()
                expected = self.metadata.get("files", {}).get(rel)
                if expected != hashlib.sha256(data).hexdigest():
                    raise ExportError(f"{path} does not match its sha256 in {METADATA} (corrupt or replaced)")
            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
            if self.threads:
                options.intra_op_num_threads = self.threads
            self._sessions[signature] = ort.InferenceSession(data, options, providers=self.providers)
        return self._sessions[signature]

    # ------------------------------------------------------------------------------ endpoints

    def run(self, signature: str, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Validate ``inputs`` against ``signature`` and run it: output name -> array."""
        if signature not in self.signatures:
            raise InputError(f"unknown signature {signature!r}; choose one of {', '.join(self.signatures)}")
        return self.run_checked(signature, check_inputs(self.signatures[signature], inputs, signature))

    def run_checked(self, signature: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run inputs that :func:`check_inputs` returned; image signatures decode and encode around the float model."""
        base = self.signatures[signature].get("images_of")
        if base is None:
            session = self.session(signature)
            names = [o.name for o in session.get_outputs()]
            return dict(zip(names, session.run(names, dict(feeds))))
        specs = self.signatures[signature]
        float_feeds = {
            _float_name(name): self.decode_clips(value, f"{signature}: {name}") if "image" in specs["inputs"][name] else value
            for name, value in feeds.items()
        }
        outputs = self.run_checked(base, float_feeds)
        return {
            name: self.encode_clips(outputs[_float_name(name)]) if "image" in spec else outputs[name]
            for name, spec in specs["outputs"].items()
        }

    def decode_clips(self, encoded: Sequence[bytes], label: str = "clip") -> np.ndarray:
        """Encoded clips (PNG film strips or GIFs) -> float32 (B, T, H, W, C) frames = uint8 / pixel_scale."""
        frames, size, _, channels = self.clip_shape
        try:
            pixels = clip_images.decode_batch(encoded, frames, size, channels, label)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return pixels.astype(np.float32) / np.float32(self.pixel_scale)

    def encode_clips(self, clips: np.ndarray) -> np.ndarray:
        """float (B, T, H, W, C) frames -> (B,) object array of PNG film strips."""
        out = np.empty(len(clips), dtype=object)
        out[:] = [clip_images.film_strip_png(clip) for clip in clip_images.to_pixels(clips, self.pixel_scale)]
        return out

    def encode(self, frames: Any) -> dict[str, np.ndarray]:
        """Clips (B, T, H, W, C) in [0, 1] -> f_mean, f_logvar (B, F), z_mean, z_logvar (B, T, Z)."""
        return self.run("encode", {"frames": frames})

    def decode(self, z_f: Any, z_t: Any) -> np.ndarray:
        """Latents (B, F), (B, T, Z) -> clips (B, T, H, W, C) in [0, 1]."""
        return self.run("decode", {"z_f": z_f, "z_t": z_t})["frames"]

    def swap(self, clip_a: Any, clip_b: Any) -> tuple[np.ndarray, np.ndarray]:
        """(a's motion with b's appearance, b's motion with a's appearance), each (B, T, H, W, C)."""
        out = self.run("swap", {"clip_a": clip_a, "clip_b": clip_b})
        return out["a_with_b_appearance"], out["b_with_a_appearance"]

    def generate(self, count: int = 1, seed: int = 0, z_f: Any = None, z_t: Any = None) -> dict[str, np.ndarray]:
        """``count`` clips from seeds ``seed, seed + 1, ...`` (clip i equals ``generate(1, seed + i)``).

        ``z_f`` (F,) or (count, F) fixes the appearance of every clip, ``z_t`` (T, Z) or (count, T, Z) its
        motion. Returns frames (count, T, H, W, C), z_f_used and z_t_used.
        """
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise InputError(f"generate: count must be a positive integer, got {count!r}")
        spec = self.signatures["generate"]["inputs"]
        f_dim, (frames, z_dim) = spec["z_f"]["shape"][1], spec["z_t"]["shape"][1:]
        low, high = spec["seed"]["range"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < low or seed + count - 1 > high:
            raise InputError(f"generate: seed must be an integer with seed + count - 1 in [{low}, {high}], got {seed!r}")
        inputs = {
            "seed": np.arange(seed, seed + count, dtype=np.int64),
            "z_f": _rows("z_f", z_f, count, (f_dim,)),
            "z_t": _rows("z_t", z_t, count, (frames, z_dim)),
            "fix_z_f": np.full(count, z_f is not None),
            "fix_z_t": np.full(count, z_t is not None),
        }
        return self.run("generate", inputs)


def _float_name(name: str) -> str:
    """The float signature's tensor behind an image signature's tensor (``clip_a_bytes`` -> ``clip_a``)."""
    return name[: -len("_bytes")] if name.endswith("_bytes") else name


def _rows(name: str, value: Any, count: int, shape: tuple[int, ...]) -> Any:
    """Zeros when not given (ignored by the model), one row repeated ``count`` times, or ``count`` rows."""
    if value is None:
        return np.zeros((count, *shape), np.float32)
    array = np.asarray(value)
    if array.shape == shape:
        return np.broadcast_to(array, (count, *shape))
    return array  # check_inputs reports a wrong shape


def read_gif(source: str | Path | bytes) -> np.ndarray:
    """An animated GIF (path or bytes) -> uint8 frames (T, H, W, 3). Needs Pillow."""
    try:
        from PIL import Image, ImageSequence
    except ImportError:
        raise ImportError("read_gif needs Pillow (pip install pillow)") from None
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    with handle, Image.open(handle) as image:
        return np.stack([np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)])
