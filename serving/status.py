"""Request errors with TF Serving's status codes, and the HTTP status TF Serving answers each one with.

TF Serving turns a ``tensorflow::Status`` into an HTTP status in ``model_servers/http_server.cc``
(``ToHTTPStatusCode``); the embedded server uses the same table so a client cannot tell the two apart
by status code. One addition that TF Serving's own HTTP layer has no code for: a body over the size
limit is refused with 413 before it is read.
"""

from __future__ import annotations

HTTP_STATUS = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
PAYLOAD_TOO_LARGE = 413


class RequestError(Exception):
    """A request the server refuses: ``code`` is TF Serving's status name, ``http_status`` its HTTP status."""

    def __init__(self, code: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = " ".join(str(message).split())  # one line
        self.http_status = http_status or HTTP_STATUS[code]


def invalid_argument(message: str) -> RequestError:
    return RequestError("INVALID_ARGUMENT", message)


def not_found(message: str) -> RequestError:
    return RequestError("NOT_FOUND", message)


def too_large(limit: int) -> RequestError:
    return RequestError("RESOURCE_EXHAUSTED", f"request body exceeds the limit of {limit} bytes", PAYLOAD_TOO_LARGE)
