"""The embedded server: TF Serving's REST API (and the web page) for one export, as a Starlette app.

::

    GET  /v1/models/NAME[/versions/V]            model status (GetModelStatusResponse)
    GET  /v1/models/NAME[/versions/V]/metadata   signature defs (GetModelMetadataResponse)
    POST /v1/models/NAME[/versions/V]:predict    {"signature_name", "instances" | "inputs"}
    GET  /                                       the swap page (:mod:`serving.web`)

Paths are matched with TF Serving's own patterns (case-insensitive ``/v1/...``; ``/labels/L`` is parsed and
answered NOT_FOUND, the embedded server has no version labels). Every error is ``{"error": "..."}`` with
TF Serving's HTTP status for its code (:mod:`serving.status`). Parsing, validation, the model call and
JSON encoding of a predict request run on a worker thread behind :class:`serving.limits.Gate`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from serving import rest_format
from serving.backends import Backend
from serving.limits import Gate, Limits
from serving.status import RequestError, invalid_argument, not_found, too_large

log = logging.getLogger("serving")

PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?")
JSON = "application/json"


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def error_response(error: RequestError) -> Response:
    return json_response(rest_format.error_body(error), error.http_status)


async def read_body(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """The request body: 413 when it is (or declares to be) larger than ``limit`` bytes, 408 when it has not
    all arrived within ``timeout`` seconds (a client trickling a body holds no worker, but not for ever)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise invalid_argument(f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise too_large(limit)

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise RequestError("DEADLINE_EXCEEDED", f"request body not received within {timeout:g} s", 408) from None


def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Turn RequestError into TF Serving's error JSON; a client gone mid-request is logged, not raised."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except RequestError as error:
            if error.http_status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, error.message)
            return error_response(error)
        except ClientDisconnect:
            log.info("%s %s: client disconnected before the request was read", request.method, request.url.path)
            return Response(status_code=499)

    return endpoint


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


async def not_found_endpoint(request: Request) -> Response:
    return error_response(not_found(f"no such path: {request.method} {request.url.path}"))


def create_app(backend: Backend, limits: Limits | None = None, web_page: bool = True) -> Starlette:
    """The ASGI app serving ``backend`` within ``limits`` (web page at ``/`` unless ``web_page`` is False)."""
    from serving import web

    limits = limits or Limits()
    gate = Gate(limits)
    api = RestApi(backend, limits, gate)
    routes = [
        Route("/v1/{rest:path}", guarded(api.get), methods=["GET"]),
        Route("/v1/{rest:path}", guarded(api.post), methods=["POST"]),
    ]
    if web_page:
        routes += web.routes(backend, limits, gate, guarded)
    app = Starlette(
        routes=routes,
        exception_handlers={404: _as_json(404), 405: _as_json(405)},
        lifespan=_lifespan(gate),
    )
    app.state.backend, app.state.limits, app.state.gate = backend, limits, gate
    return app


def _as_json(status: int):
    async def handler(request: Request, exc: Exception) -> Response:
        if status == 405:
            return json_response(rest_format.dumps({"error": f"method {request.method} not allowed on {request.url.path}"}), 405)
        return await not_found_endpoint(request)

    return handler


def _lifespan(gate: Gate):
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        gate.close()

    return lifespan
