"""The embedded server: TF Serving's REST API (and the web page) for one export, as a Starlette app.

::

    GET  /v1/models/NAME[/versions/V]            model status (GetModelStatusResponse)
    GET  /v1/models/NAME[/versions/V]/metadata   signature defs (GetModelMetadataResponse)
    POST /v1/models/NAME[/versions/V]:predict    {"signature_name", "instances" | "inputs"}
    GET  /                                       the web page: swap, generate (:mod:`serving.web`)

Paths are matched with TF Serving's own patterns (case-insensitive ``/v1/...``; ``/labels/L`` is parsed and
answered NOT_FOUND, the embedded server has no version labels). Every error is ``{"error": "..."}`` with
TF Serving's HTTP status for its code (:mod:`serving.status`). Parsing, validation, the model call and
JSON encoding of a predict request run on a worker thread behind :class:`serving.limits.Gate`.
"""

from __future__ import annotations

import contextlib
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving import rest_format, web
from serving.backends import Backend
from serving.http import Refusal, guarded, json_response, read_body
from serving.limits import Gate, Limits
from serving.status import RequestError, invalid_argument, not_found

PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?")
class RestApi:
    """TF Serving's REST endpoints over one backend (one model name, one version)."""

    def __init__(self, backend: Backend, limits: Limits, gate: Gate):
        self.backend, self.limits, self.gate = backend, limits, gate

    def _check_model(self, name: str, version: str | None, label: str | None) -> None:
        backend = self.backend
        if label is not None:
            raise not_found(
                f"Servable not found for request: Labeled({name}, {label}) (the embedded server has no version labels)"
            )
        if name != backend.name or (version is not None and int(version) != backend.version):
            spec = f"Specific({name}, {int(version)})" if version is not None else f"Latest({name})"
            raise not_found(f"Servable not found for request: {spec}")

    async def get(self, request: Request) -> Response:
        path = request.url.path
        match = STATUS_PATH.fullmatch(path)
        if match is None:
            raise invalid_argument(f"Malformed request: GET {path}")
        name, version, label, subresource = match.groups()
        if not name:
            raise invalid_argument("Missing model name in request.")
        self._check_model(name, version, label)
        backend = self.backend
        if subresource:
            body = rest_format.model_metadata(backend.name, backend.version, backend.signature_defs())
        else:
            body = rest_format.model_status(backend.version)
        return json_response(rest_format.dumps(body))

    async def post(self, request: Request) -> Response:
        path = request.url.path
        match = PREDICT_PATH.fullmatch(path)
        if match is None:
            raise invalid_argument(f"Malformed request: POST {path}")
        name, version, label, method = match.groups()
        self._check_model(name, version, label)
        if method.lower() != "predict":
            raise invalid_argument(f"{method} needs a {method} signature; this model has predict signatures only (use :predict)")
        body = await read_body(request, self.limits.max_body_bytes, self.limits.timeout_s)
        return json_response(await self.gate.run(self.predict, body))

    def predict(self, body: bytes) -> bytes:
        """Parse, validate, run and encode one predict request (on a worker thread)."""
        request = rest_format.parse_json(body)
        signature = rest_format.signature_name(request)
        inputs, fmt = rest_format.predict_inputs(request, self.backend.signature(signature))
        outputs = self.backend.predict(signature, inputs, self.limits.max_batch)
        return rest_format.dumps(rest_format.predict_response(outputs, fmt))




def create_app(backend: Backend, limits: Limits | None = None, web_page: bool = True) -> Starlette:
    """The ASGI app serving ``backend`` within ``limits`` (web page at ``/`` unless ``web_page`` is False)."""
    limits = limits or Limits()
    gate = Gate(limits)
    api = RestApi(backend, limits, gate)
    routes = [
        Route("/v1/{rest:path}", guarded(api.get, limits), methods=["GET"]),
        Route("/v1/{rest:path}", guarded(api.post, limits), methods=["POST"]),
    ]
    if web_page:
        routes += web.routes(backend, limits, gate, lambda handler: guarded(handler, limits))
    app = Starlette(
        routes=routes,
        exception_handlers={404: _as_json(404, limits), 405: _as_json(405, limits)},
        lifespan=_lifespan(gate),
    )
    app.state.backend, app.state.limits, app.state.gate = backend, limits, gate
    return app


def _as_json(status: int, limits: Limits):
    """Starlette's own 404 (no route) and 405 (wrong method) as error JSON, sent like every other refusal."""

    async def handler(request: Request, exc: Exception) -> Response:
        if status == 405:
            error = RequestError("INVALID_ARGUMENT", f"method {request.method} not allowed on {request.url.path}", 405)
        else:
            error = not_found(f"no such path: {request.method} {request.url.path}")
        return Refusal(request, error, limits)

    return handler


def _lifespan(gate: Gate):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        gate.close()

    return lifespan
