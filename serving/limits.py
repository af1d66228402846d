"""The embedded server's limits, and the gate every model call goes through.

* ``max_body_bytes``: a larger body is refused with 413 before it is read (a declared Content-Length) or as
  soon as it passes the limit (chunked).
* ``max_batch``: more clips in one call is INVALID_ARGUMENT (400).
* ``concurrency``: at most this many requests are parsed, run and encoded at once, each on a worker thread
  (the event loop keeps accepting and answering meanwhile).
* ``max_queue``: requests waiting for a worker beyond this are refused at once with RESOURCE_EXHAUSTED (429),
  so a burst cannot pile up unbounded memory.
* ``timeout_s``: a body that has not fully arrived in time gets 408; a request not answered in time after
  that gets DEADLINE_EXCEEDED (504). Work still queued is dropped; work already running finishes on its
  thread (neither onnxruntime nor TensorFlow can be interrupted) and keeps its worker until then, so the
  concurrency bound holds even after timeouts.
* ``drain_bytes`` / ``drain_s``: once an error is answered before the body was read (404, 400, 413, 408, ...),
  the rest of the body (at most this many bytes, for at most this long) is read and dropped, never kept,
  before the connection closes (``serving.http.Refusal``): a client still sending would otherwise get a reset
  connection instead of the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

from serving.status import RequestError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 << 20
    max_batch: int = 32
    concurrency: int = 2
    max_queue: int = 16
    timeout_s: float = 30.0
    drain_bytes: int = 256 << 20
    drain_s: float = 10.0

    def __post_init__(self):
        for field in ("max_body_bytes", "max_batch", "concurrency"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be at least 1")
        if self.max_queue < 0 or not self.timeout_s > 0:
            raise ValueError("max_queue must be >= 0 and timeout_s > 0")
        if self.drain_bytes < 0 or self.drain_s < 0:
            raise ValueError("drain_bytes and drain_s must be >= 0")


class Gate:
    """Bounded concurrency + bounded queue + per-request timeout around blocking calls."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._executor = ThreadPoolExecutor(limits.concurrency, thread_name_prefix="serving-worker")
        self._lock = threading.Lock()
        self._pending = 0  # submitted and not finished (queued or running)

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` on a worker thread, within the limits; RequestError if refused or late."""
        limits = self.limits
        with self._lock:
            if self._pending >= limits.concurrency + limits.max_queue:
                raise RequestError(
                    "RESOURCE_EXHAUSTED",
                    f"server busy: {self._pending} requests in progress or queued (limit {limits.concurrency + limits.max_queue}); retry later",
                )
            self._pending += 1
        future: Future = self._executor.submit(function, *args)
        future.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), limits.timeout_s)
        except asyncio.TimeoutError:
            raise RequestError("DEADLINE_EXCEEDED", f"request timed out after {limits.timeout_s:g} s") from None

    def _finished(self, _future: Future) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
