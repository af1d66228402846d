"""What runs a signature of an export behind the REST API: onnxruntime (default) or the SavedModel.

Both read ``metadata.json``, check inputs against its signatures with :func:`serving.onnx_runtime.check_inputs`
before anything runs, and describe themselves to TF Serving clients with the same SignatureDefMap. The
onnx backend never imports TensorFlow; the savedmodel backend imports it when it is created.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from serving import clip_images, rest_format
from serving.onnx_runtime import ExportError, InputError, OnnxModel, check_inputs, load_metadata
from serving.status import invalid_argument

BACKENDS = ("onnx", "savedmodel")
log = logging.getLogger("serving")


class Backend:
    """One export version: its metadata, signature resolution and input checks; subclasses run the model."""

    kind = ""
    detail = ""  # which models of the export it runs, in words (the onnx backend: float32 or int8)

    def __init__(self, export_dir: str | Path):
        self.export_dir = Path(export_dir)
        self.metadata = load_metadata(self.export_dir)
        self.name: str = self.metadata["name"]
        self.version: int = int(self.metadata["version"])

    @property
    def signatures(self) -> dict[str, Any]:
        """Signature name -> inputs/outputs of metadata.json, plus ``serving_default``."""
        meta = self.metadata
        return {**meta["signatures"], rest_format.DEFAULT_SIGNATURE: meta["signatures"][meta["default_signature"]]}

    def signature(self, name: str) -> Mapping[str, Any]:
        """The inputs/outputs of signature ``name`` (INVALID_ARGUMENT, worded as TF Serving does, if unknown)."""
        signatures = self.signatures
        if name not in signatures:
            raise invalid_argument(f'Serving signature name: "{name}" not found in signature def')
        return signatures[name]

    def resolve(self, name: str) -> str:
        """The export's own name of a signature (``serving_default`` -> the default one)."""
        self.signature(name)
        return self.metadata["default_signature"] if name == rest_format.DEFAULT_SIGNATURE else name

    def signature_defs(self) -> dict[str, Any]:
        """The SignatureDefMap TF Serving reports in /metadata."""
        return rest_format.signature_defs(self.metadata)

    def predict(self, signature: str, inputs: Mapping[str, Any], max_batch: int | None = None) -> dict[str, np.ndarray]:
        """Check ``inputs`` against ``signature`` (shape, dtype, range, finite values, batch limit) and run it."""
        name = self.resolve(signature)
        try:
            arrays = check_inputs(self.metadata["signatures"][name], inputs, name)
            batch = next(iter(arrays.values())).shape[0]
            if max_batch is not None and batch > max_batch:
                raise InputError(f"{name}: batch of {batch} exceeds this server's limit of {max_batch} (--max-batch)")
            return self._run(name, arrays)
        except InputError as exc:  # also from decoding the images of an image signature
            raise invalid_argument(str(exc)) from None

    def _run(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load everything now (and run each signature once) so the first request is not the slow one."""
        meta = self.metadata
        black = np.empty(1, dtype=object)
        black[0] = clip_images.film_strip_png(np.zeros((meta["frames"], meta["frame_size"], meta["frame_size"], meta["channels"]), np.uint8))
        for name, sig in meta["signatures"].items():
            self._run(name, _zeros(sig["inputs"], black))


def _zeros(specs: Mapping[str, Any], image: np.ndarray) -> dict[str, np.ndarray]:
    """An input of each spec's shape with batch 1: zeros, or ``image`` for encoded clips."""
    return {
        name: image if spec["dtype"] == "string" else np.zeros([1 if d == -1 else d for d in spec["shape"]], spec["dtype"])
        for name, spec in specs.items()
    }


class OnnxBackend(Backend):
    """onnxruntime sessions from ``DIR/onnx`` (checksums verified against metadata.json when loaded)."""

    kind = "onnx"

    def __init__(self, export_dir: str | Path, threads: int | None = None, precision: str = "auto"):
        super().__init__(export_dir)
        self.model = OnnxModel(self.export_dir, threads=threads, precision=precision)
        self.detail = self.model.loaded

    def _run(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.model.run_checked(signature, arrays)


class SavedModelBackend(Backend):
    """The SavedModel of ``DIR/savedmodel/NAME/VERSION`` run by TensorFlow, as TF Serving would run it."""

    kind = "savedmodel"

    def __init__(self, export_dir: str | Path, threads: int | None = None):
        super().__init__(export_dir)
        relative = self.metadata.get("paths", {}).get("savedmodel")
        if not relative:
            raise ExportError(f"{self.export_dir} has no SavedModel (export it with --formats savedmodel)")
        self.path = self.export_dir / relative
        if not (self.path / "saved_model.pb").is_file():
            raise ExportError(f"{self.path} holds no saved_model.pb (export {self.export_dir} again)")
        _verify(self.export_dir, relative, self.metadata.get("files", {}))
        # lazy: only the SavedModel backend needs TensorFlow; the onnx backend runs without it
        import tensorflow as tf

        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # TensorFlow already running in this process: its thread pools are fixed
                log.warning("TensorFlow is already initialised in this process; threads=%d not applied", threads)
        self._tf = tf
        self.loaded = tf.saved_model.load(str(self.path))

    def signature_defs(self) -> dict[str, Any]:
        """The SignatureDefMap read from saved_model.pb itself (what TF Serving reports)."""
        # lazy: TensorFlow's protos, for the SavedModel backend only
        from google.protobuf import json_format
        from tensorflow.core.protobuf import saved_model_pb2

        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((self.path / "saved_model.pb").read_bytes())
        graph = next(g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags)
        return {
            name: json_format.MessageToDict(sig, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            for name, sig in graph.signature_def.items()
        }

    def _run(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        specs, meta = self.metadata["signatures"][signature]["inputs"], self.metadata
        for name, values in arrays.items():  # the graph would refuse bad images in TF's words: check as onnx does
            if "image" in specs[name]:
                try:
                    clip_images.decode_batch(values, meta["frames"], meta["frame_size"], meta["channels"], f"{signature}: {name}")
                except ValueError as exc:
                    raise InputError(str(exc)) from None
        function = self.loaded.signatures[signature]
        outputs = function(**{name: self._tf.constant(list(value) if value.dtype == object else value) for name, value in arrays.items()})
        return {name: value.numpy() for name, value in outputs.items()}


def _verify(export_dir: Path, relative: str, checksums: Mapping[str, str]) -> None:
    """Every file of the SavedModel listed in metadata.json must still have its sha256."""
    listed = {rel: digest for rel, digest in checksums.items() if rel.startswith(relative + "/")}
    for rel, digest in listed.items():
        path = export_dir / rel
        if not path.is_file():
            raise ExportError(f"{path} is missing (export {export_dir} again)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise ExportError(f"{path} does not match its sha256 in metadata.json (corrupt or replaced)")


def load(kind: str, export_dir: str | Path, threads: int | None = None, precision: str = "auto") -> Backend:
    """The backend ``kind`` ("onnx" or "savedmodel") for an export directory, loaded and warmed up;
    ``precision`` chooses the onnx backend's models (``OnnxModel``'s argument)."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    if kind == "onnx":
        backend: Backend = OnnxBackend(export_dir, threads=threads, precision=precision)
    else:
        if precision not in ("auto", "float32"):
            raise ValueError(f"the savedmodel backend runs float32 only; --onnx-precision {precision} needs --backend onnx")
        backend = SavedModelBackend(export_dir, threads=threads)
    backend.warm_up()
    return backend
