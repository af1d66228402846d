"""TF Serving's gRPC API for the embedded server (``python -m serving --grpc-port 8500``), optional.

``PredictionService.Predict`` and ``GetModelMetadata`` and ``ModelService.GetModelStatus``, over the same
backend, input checks and batch limit as the REST API; errors carry TF Serving's status codes
(INVALID_ARGUMENT, NOT_FOUND, ...). At most ``concurrency + max_queue`` calls are accepted at once (gRPC
answers RESOURCE_EXHAUSTED beyond that) and messages are capped at the REST body limit. Deadlines are the
client's, as in TF Serving.

Needs the ``grpc`` extra: tensorflow-serving-api's protos import TensorFlow, so unlike the REST server on
the onnx backend, this endpoint loads TensorFlow.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import numpy as np

from serving.backends import Backend
from serving.limits import Limits
from serving.status import RequestError, not_found


def _imports() -> dict[str, Any]:
    try:
        import grpc
        import tensorflow as tf
        from google.protobuf import json_format
        from tensorflow_serving.apis import (
            get_model_metadata_pb2,
            get_model_status_pb2,
            model_service_pb2_grpc,
            predict_pb2,
            prediction_service_pb2_grpc,
        )
    except ImportError as exc:
        raise ImportError(f"--grpc-port needs the grpc extra (pip install 's3vae-tf[grpc]'): {exc}") from None
    return dict(
        grpc=grpc,
        tf=tf,
        json_format=json_format,
        metadata=get_model_metadata_pb2,
        status=get_model_status_pb2,
        model_service=model_service_pb2_grpc,
        predict=predict_pb2,
        prediction_service=prediction_service_pb2_grpc,
    )


def create_server(backend: Backend, limits: Limits, address: str) -> tuple[Any, int]:
    """A started-later ``grpc.Server`` bound to ``address`` ("host:port"), and the port it got."""
    m = _imports()
    grpc, tf = m["grpc"], m["tf"]

    def check_model(spec) -> None:
        version = spec.version.value if spec.HasField("version") else None
        if spec.name != backend.name or (version is not None and version != backend.version):
            shown = f"Specific({spec.name}, {version})" if version is not None else f"Latest({spec.name})"
            raise not_found(f"Servable not found for request: {shown}")

    def guarded(method):
        def call(self, request, context):
            try:
                return method(request)
            except RequestError as error:
                context.abort(getattr(grpc.StatusCode, error.code), error.message)

        return call

    class Prediction(m["prediction_service"].PredictionServiceServicer):
        @guarded
        def Predict(request):  # noqa: N802  (gRPC method name)
            check_model(request.model_spec)
            signature = request.model_spec.signature_name or "serving_default"
            backend.signature(signature)
            inputs = {name: tf.make_ndarray(tensor) for name, tensor in request.inputs.items()}
            outputs = backend.predict(signature, inputs, limits.max_batch)
            response = m["predict"].PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            response.model_spec.signature_name = signature
            response.model_spec.version.value = backend.version
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(np.ascontiguousarray(value)))
            return response

        @guarded
        def GetModelMetadata(request):  # noqa: N802
            check_model(request.model_spec)
            if list(request.metadata_field) != ["signature_def"]:
                raise RequestError("INVALID_ARGUMENT", "Metadata field(s) not supported: only signature_def")
            defs = m["json_format"].ParseDict({"signature_def": backend.signature_defs()}, m["metadata"].SignatureDefMap())
            response = m["metadata"].GetModelMetadataResponse()
            response.model_spec.name = backend.name
            response.model_spec.version.value = backend.version
            response.metadata["signature_def"].Pack(defs)
            return response

    class Models(m["model_service"].ModelServiceServicer):
        @guarded
        def GetModelStatus(request):  # noqa: N802
            check_model(request.model_spec)
            response = m["status"].GetModelStatusResponse()
            status = response.model_version_status.add()
            status.version = backend.version
            status.state = m["status"].ModelVersionStatus.AVAILABLE
            status.status.SetInParent()  # error_code OK, as TF Serving reports it
            return response

    options = [
        ("grpc.max_receive_message_length", limits.max_body_bytes),
        ("grpc.max_send_message_length", 4 * limits.max_body_bytes),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=limits.concurrency, thread_name_prefix="serving-grpc"),
        options=options,
        maximum_concurrent_rpcs=limits.concurrency + limits.max_queue,
    )
    m["prediction_service"].add_PredictionServiceServicer_to_server(Prediction(), server)
    m["model_service"].add_ModelServiceServicer_to_server(Models(), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return server, port
