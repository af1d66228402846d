"""HTTP plumbing shared by the REST API and the web page: bounded body reading, refusals that reach a client
still sending, and the guard that turns :class:`serving.status.RequestError` into TF Serving's error JSON."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from serving import rest_format
from serving.limits import Limits
from serving.status import RequestError, invalid_argument, too_large

log = logging.getLogger("serving")

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
