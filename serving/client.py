"""Clients for TF Serving and the embedded server: numpy in, numpy out.

::

    from serving.client import RestClient

    with RestClient("http://127.0.0.1:8501", model="s3vae") as client:
        a_with_b, b_with_a = client.swap(clip_a, clip_b)      # (B, T, H, W, C) float32 in [0, 1]
        latents = client.encode(clip_a)                       # f_mean, f_logvar, z_mean, z_logvar
        frames = client.decode(latents["f_mean"], latents["z_mean"])
        clips = client.generate(count=4, seed=7)["frames"]
        pngs = client.swap_images([gif_a], [gif_b])           # image signatures: encoded clips in and out

:class:`RestClient` speaks TF Serving's REST API (columnar ``inputs`` by default, ``fmt="row"`` for
``instances``) with httpx; :class:`GrpcClient` speaks its gRPC API (``PredictionService``) and needs the
``grpc`` extra (tensorflow-serving-api, which brings TensorFlow). Both raise :class:`ServingError` with the
server's message for a refused request. Output dtypes and the latent sizes ``generate`` needs come from the
model's metadata (fetched once). The ``*_images`` methods send and return clips as encoded images (bytes:
PNG film strips or GIFs in, PNG film strips out), which REST carries as ``{"b64": ...}``, a few kB per clip
instead of ~0.6 MB of JSON numbers (Sprites); :mod:`serving.clip_images` turns them into pixels and back.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Mapping

import numpy as np

try:
    import orjson
except ImportError:  # optional: the json module does the same, slower
    orjson = None

NP_DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_INT64": np.int64, "DT_BOOL": np.bool_, "DT_STRING": object}


class ServingError(Exception):
    """A request the server refused (``status``: HTTP status, or the gRPC status name), or no server at all."""

    def __init__(self, status: int | str | None, message: str):
        super().__init__(f"{status}: {message}" if status is not None else message)
        self.status = status
        self.message = message


class _Endpoints:
    """swap / encode / decode / generate on top of ``predict`` and ``signature_defs``."""

    def predict(self, inputs: Mapping[str, Any], signature_name: str = "serving_default") -> dict[str, np.ndarray]:
        raise NotImplementedError

    def signature_defs(self) -> dict[str, Any]:
        """Signature name -> SignatureDef as JSON (``inputs``/``outputs`` -> dtype, tensor_shape)."""
        raise NotImplementedError

    def _sizes(self, signature: str) -> dict[str, list[int]]:
        if not hasattr(self, "_shape_cache"):
            self._shape_cache: dict[str, dict[str, list[int]]] = {}
        if signature not in self._shape_cache:
            sig = self.signature_defs()[signature]
            self._shape_cache[signature] = {
                name: [int(d["size"]) for d in info["tensor_shape"].get("dim", [])] for name, info in sig["inputs"].items()
            }
        return self._shape_cache[signature]

    def swap(self, clip_a: Any, clip_b: Any) -> tuple[np.ndarray, np.ndarray]:
        """(a's motion with b's appearance, b's motion with a's appearance), each (B, T, H, W, C)."""
        out = self.predict({"clip_a": clip_a, "clip_b": clip_b}, "swap")
        return out["a_with_b_appearance"], out["b_with_a_appearance"]

    def encode(self, frames: Any) -> dict[str, np.ndarray]:
        """Clips (B, T, H, W, C) in [0, 1] -> f_mean, f_logvar (B, F), z_mean, z_logvar (B, T, Z)."""
        return self.predict({"frames": frames}, "encode")

    def decode(self, z_f: Any, z_t: Any) -> np.ndarray:
        """Latents (B, F), (B, T, Z) -> clips (B, T, H, W, C) in [0, 1]."""
        return self.predict({"z_f": z_f, "z_t": z_t}, "decode")["frames"]

    def generate(self, count: int = 1, seed: int = 0, z_f: Any = None, z_t: Any = None) -> dict[str, np.ndarray]:
        """``count`` clips from seeds ``seed .. seed + count - 1``; ``z_f`` / ``z_t`` (one row or ``count``) fix them.

        Returns frames (count, T, H, W, C), z_f_used and z_t_used.
        """
        return self.predict(self._generate_inputs("generate", count, seed, z_f, z_t), "generate")

    def swap_images(self, clip_a: list[bytes], clip_b: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        """``swap`` on encoded clips (PNG film strips or GIFs) -> two lists of PNG film strips."""
        out = self.predict({"clip_a_bytes": _strings(clip_a), "clip_b_bytes": _strings(clip_b)}, "swap_images")
        return list(out["a_with_b_appearance_bytes"]), list(out["b_with_a_appearance_bytes"])

    def encode_images(self, frames: list[bytes]) -> dict[str, np.ndarray]:
        """``encode`` on encoded clips (PNG film strips or GIFs)."""
        return self.predict({"frames_bytes": _strings(frames)}, "encode_images")

    def decode_images(self, z_f: Any, z_t: Any) -> list[bytes]:
        """``decode`` -> one PNG film strip per row."""
        return list(self.predict({"z_f": z_f, "z_t": z_t}, "decode_images")["frames_bytes"])

    def generate_images(self, count: int = 1, seed: int = 0, z_f: Any = None, z_t: Any = None) -> dict[str, Any]:
        """``generate`` with the clips as PNG film strips: frames_bytes (a list), z_f_used, z_t_used."""
        out = self.predict(self._generate_inputs("generate_images", count, seed, z_f, z_t), "generate_images")
        return {**out, "frames_bytes": list(out["frames_bytes"])}

    def _generate_inputs(self, signature: str, count: int, seed: int, z_f: Any, z_t: Any) -> dict[str, np.ndarray]:
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        sizes = self._sizes(signature)
        f_shape, t_shape = tuple(sizes["z_f"][1:]), tuple(sizes["z_t"][1:])
        return {
            "seed": np.arange(seed, seed + count, dtype=np.int32),
            "z_f": _rows(z_f, count, f_shape),
            "z_t": _rows(z_t, count, t_shape),
            "fix_z_f": np.full(count, z_f is not None),
            "fix_z_t": np.full(count, z_t is not None),
        }


def _strings(values: Any) -> np.ndarray:
    """Byte strings as a 1-D object array (numpy's ``S`` dtype would drop the trailing zero bytes of a file)."""
    if isinstance(values, (bytes, bytearray, str)):
        raise ValueError("expected a list of encoded clips (bytes), one per clip, not a single value")
    out = np.empty(len(values), dtype=object)
    out[:] = [bytes(value) for value in values]
    return out


def _rows(value: Any, count: int, shape: tuple[int, ...]) -> np.ndarray:
    if value is None:
        return np.zeros((count, *shape), np.float32)
    array = np.asarray(value, np.float32)
    return np.broadcast_to(array, (count, *shape)) if array.shape == shape else array


def _wire(value: np.ndarray) -> Any:
    """A tensor as JSON carries it: byte strings as TF Serving's ``{"b64": ...}`` objects."""
    if value.dtype == object:
        return [{"b64": base64.b64encode(item).decode("ascii")} for item in value]
    return value


def _unwire(value: Any, dtype: Any) -> np.ndarray:
    """A JSON tensor of the signature's dtype as an array (``{"b64": ...}`` elements -> bytes)."""
    if dtype is object:
        out = np.empty(len(value), dtype=object)
        out[:] = [base64.b64decode(item["b64"]) for item in value]
        return out
    return np.asarray(value, dtype)


def _json_bytes(body: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """``body`` as JSON. orjson (when installed) writes float32 arrays fast and exactly, but NaN/Inf as null:
    such arrays go through the json module instead, as NaN/Infinity tokens the server then refuses clearly."""
    finite = all(a.dtype.kind != "f" or np.isfinite(a).all() for a in arrays.values())
    if orjson is not None and finite:
        try:
            return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:  # a dtype orjson does not write (e.g. float16)
            pass
    return json.dumps(body, default=lambda value: value.tolist()).encode()


def _loads(data: bytes) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


class RestClient(_Endpoints):
    """TF Serving's REST API at ``url`` (e.g. ``http://127.0.0.1:8501``) for model ``model``.

    Args:
        version: a fixed model version (``/versions/V``); None = the latest the server has.
        fmt: "columnar" (``inputs`` -> ``outputs``, compact) or "row" (``instances`` -> ``predictions``).
        timeout: seconds per request.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8501",
        model: str = "s3vae",
        version: int | None = None,
        fmt: str = "columnar",
        timeout: float = 60.0,
        http: Any = None,
    ):
        # lazy: httpx comes with the optional 'serve' extra
        import httpx

        if fmt not in ("columnar", "row"):
            raise ValueError(f"fmt must be 'columnar' or 'row', got {fmt!r}")
        self.url, self.model, self.version, self.fmt = url.rstrip("/"), model, version, fmt
        self._http = http or httpx.Client(timeout=timeout)
        self._httpx = httpx
        self._defs: dict[str, Any] | None = None

    @property
    def model_url(self) -> str:
        return f"{self.url}/v1/models/{self.model}" + (f"/versions/{self.version}" if self.version is not None else "")

    def _request(self, method: str, url: str, body: bytes | None = None) -> Any:
        try:
            response = self._http.request(
                method, url, content=body, headers={"Content-Type": "application/json"} if body else None
            )
        except self._httpx.HTTPError as exc:
            raise ServingError(None, f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
        try:
            payload = _loads(response.content)
        except ValueError:
            payload = None
        if response.status_code != 200:
            message = payload.get("error") if isinstance(payload, dict) and "error" in payload else response.text[:500]
            raise ServingError(response.status_code, str(message))
        if not isinstance(payload, dict):
            raise ServingError(response.status_code, f"the server answered {url} with something that is not a JSON object")
        return payload

    def status(self) -> dict[str, Any]:
        """GET /v1/models/NAME: {"model_version_status": [...]}."""
        return self._request("GET", self.model_url)

    def metadata(self) -> dict[str, Any]:
        """GET /v1/models/NAME/metadata: {"model_spec": ..., "metadata": {"signature_def": ...}}."""
        return self._request("GET", self.model_url + "/metadata")

    def signature_defs(self) -> dict[str, Any]:
        if self._defs is None:
            self._defs = self.metadata()["metadata"]["signature_def"]["signature_def"]
        return self._defs

    def predict(
        self, inputs: Mapping[str, Any], signature_name: str = "serving_default", fmt: str | None = None
    ) -> dict[str, np.ndarray]:
        """POST :predict with ``inputs`` (name -> array-like); output name -> array of the signature's dtype."""
        fmt = fmt or self.fmt
        arrays = {
            name: value if isinstance(value, np.ndarray) and value.dtype == object else np.ascontiguousarray(value)
            for name, value in inputs.items()
        }
        wired = {name: _wire(value) for name, value in arrays.items()}
        if fmt == "columnar":
            body: dict[str, Any] = {"signature_name": signature_name, "inputs": wired}
        else:
            rows = len(next(iter(arrays.values())))
            body = {"signature_name": signature_name, "instances": [{k: v[i] for k, v in wired.items()} for i in range(rows)]}
        payload = self._request("POST", self.model_url + ":predict", _json_bytes(body, arrays))
        outputs = self.signature_defs()[signature_name]["outputs"]
        if fmt == "columnar":
            values = payload["outputs"] if isinstance(payload.get("outputs"), dict) else {next(iter(outputs)): payload["outputs"]}
        else:
            predictions = payload["predictions"]
            if predictions and isinstance(predictions[0], dict) and set(predictions[0]) <= set(outputs):  # not {"b64"}
                values = {name: [row[name] for row in predictions] for name in predictions[0]}
            else:
                values = {next(iter(outputs)): predictions}
        return {name: _unwire(value, NP_DTYPES.get(outputs.get(name, {}).get("dtype"))) for name, value in values.items()}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RestClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class GrpcClient(_Endpoints):
    """TF Serving's gRPC API (``PredictionService``) at ``target`` (e.g. ``127.0.0.1:8500``).

    Needs ``pip install 's3vae-tf[grpc]'`` (grpcio + tensorflow-serving-api, which depends on TensorFlow).
    """

    MAX_MESSAGE = 256 << 20

    def __init__(self, target: str = "127.0.0.1:8500", model: str = "s3vae", version: int | None = None, timeout: float = 60.0):
        try:
            import grpc
            import tensorflow as tf
            from tensorflow_serving.apis import (
                get_model_metadata_pb2,
                get_model_status_pb2,
                model_service_pb2_grpc,
                predict_pb2,
                prediction_service_pb2_grpc,
            )
        except ImportError as exc:
            raise ImportError(f"GrpcClient needs the grpc extra (pip install 's3vae-tf[grpc]'): {exc}") from None
        self._grpc, self._tf = grpc, tf
        self._pb = {"predict": predict_pb2, "metadata": get_model_metadata_pb2, "status": get_model_status_pb2}
        options = [("grpc.max_send_message_length", self.MAX_MESSAGE), ("grpc.max_receive_message_length", self.MAX_MESSAGE)]
        self.channel = grpc.insecure_channel(target, options=options)
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.target, self.model, self.version, self.timeout = target, model, version, timeout
        self._defs: dict[str, Any] | None = None

    def _spec(self, spec, signature_name: str = "") -> None:
        spec.name = self.model
        if signature_name:
            spec.signature_name = signature_name
        if self.version is not None:
            spec.version.value = self.version

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as exc:
            raise ServingError(exc.code().name, exc.details()) from None

    def status(self) -> dict[str, Any]:
        # lazy: protobuf and the TF Serving protos come with the optional 'grpc' extra
        from google.protobuf import json_format

        request = self._pb["status"].GetModelStatusRequest()
        self._spec(request.model_spec)
        response = self._call(self._models.GetModelStatus, request)
        return json_format.MessageToDict(response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)

    def signature_defs(self) -> dict[str, Any]:
        if self._defs is None:
            from google.protobuf import json_format
            from tensorflow_serving.apis import get_model_metadata_pb2

            request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
            self._spec(request.model_spec)
            response = self._call(self._predict.GetModelMetadata, request)
            defs = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(defs)
            self._defs = json_format.MessageToDict(defs, preserving_proto_field_name=True)["signature_def"]
        return self._defs

    def predict(self, inputs: Mapping[str, Any], signature_name: str = "serving_default") -> dict[str, np.ndarray]:
        request = self._pb["predict"].PredictRequest()
        self._spec(request.model_spec, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(self._tf.make_tensor_proto(np.asarray(value)))
        response = self._call(self._predict.Predict, request)
        return {name: self._tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "GrpcClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
