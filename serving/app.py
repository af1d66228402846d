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

import asyncio
import contextlib
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


BODY_DONE = "s3vae.body_done"  # scope key: the request's body has been received to its end


async def _next_chunk(request: Request) -> bytes | None:
    """The next piece of the request body, or None once it has ended (ClientDisconnect if the client left)."""
    if request.scope.get(BODY_DONE):
        return None
    message = await request.receive()
    if message["type"] == "http.disconnect":
        request.scope[BODY_DONE] = True
        raise ClientDisconnect()
    if not message.get("more_body", False):
        request.scope[BODY_DONE] = True
    return message.get("body", b"")


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
        while (chunk := await _next_chunk(request)) is not None:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if request.scope.get(BODY_DONE):
                break
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise RequestError("DEADLINE_EXCEEDED", f"request body not received within {timeout:g} s", 408) from None


def _body_pending(request: Request) -> bool:
    """Whether part of the request body may still be on its way."""
    if request.scope.get(BODY_DONE):
        return False
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


async def discard_body(request: Request, limits: Limits) -> None:
    """Read and drop what is left of the request body, within ``limits.drain_bytes`` and ``limits.drain_s``
    (a larger, slower or vanished body is left unread). Nothing is kept: memory stays one chunk."""

    async def drain() -> None:
        size = 0
        while size <= limits.drain_bytes and (chunk := await _next_chunk(request)) is not None:
            size += len(chunk)

    with contextlib.suppress(asyncio.TimeoutError, ClientDisconnect):
        await asyncio.wait_for(drain(), limits.drain_s)


class Refusal(Response):
    """An error answer that reaches a client still sending its body: the answer goes out at once, then the
    rest of the body is read and dropped (bounded, :func:`discard_body`) before the connection closes, the
    lingering close of production servers. Closing with unread data would reset the connection, and Python's
    urllib, requests and most HTTP libraries, which read the answer only after sending the whole body, would
    see ``ConnectionResetError`` or ``BrokenPipeError`` instead of the error JSON."""

    def __init__(self, request: Request, error: RequestError, limits: Limits):
        super().__init__(rest_format.error_body(error), status_code=error.http_status, media_type=JSON)
        self.request, self.limits = request, limits
        self.draining = _body_pending(request)
        if self.draining:
            self.headers["Connection"] = "close"

    async def __call__(self, scope, receive, send) -> None:
        if not self.draining:
            return await super().__call__(scope, receive, send)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        await discard_body(self.request, self.limits)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def guarded(handler: Callable[[Request], Awaitable[Response]], limits: Limits) -> Callable[[Request], Awaitable[Response]]:
    """Turn RequestError into TF Serving's error JSON; a client gone mid-request is logged, not raised."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except RequestError as error:
            if error.http_status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, error.message)
            return Refusal(request, error, limits)
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




def create_app(backend: Backend, limits: Limits | None = None, web_page: bool = True) -> Starlette:
    """The ASGI app serving ``backend`` within ``limits`` (web page at ``/`` unless ``web_page`` is False)."""
    from serving import web

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
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        gate.close()

    return lifespan
