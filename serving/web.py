"""The web page: swap two clips, and generate with a fixed appearance or a fixed motion, as the paper's figures.

::

    GET  /                     the page (serving/static/index.html, no external resources)
    GET  /ui/samples           {"model", "version", ..., "samples": [{"index", "url", "labels"}]} of DIR/samples
    GET  /ui/samples/N.gif     one sample clip
    POST /ui/fit               {"gif": BASE64, "label": "clip A"} -> {"clip": BASE64_PNG_FILM_STRIP, "notes": [...]}

The page itself calls the model through TF Serving's REST API (``:predict`` with the image signatures
``swap_images``, ``encode_images`` and ``generate_images``, clips as ``{"b64": ...}``), like any client.
``/ui/fit`` is the one thing the API does not do: turn an arbitrary uploaded GIF into the model's clip
(first T frames, centre-cropped and resized; :mod:`serving.gifs`) and say what was changed. It runs under the
same limits as ``:predict``.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving import clip_images, gifs, rest_format
from serving.backends import Backend
from serving.http import read_body
from serving.limits import Gate, Limits
from serving.status import invalid_argument, not_found

PAGE = Path(__file__).with_name("static") / "index.html"
MAX_LABEL = 40


class WebPage:
    """The page's endpoints over one backend: the export's sample GIFs and the fitting of uploads."""

    def __init__(self, backend: Backend, limits: Limits, gate: Gate):
        self.backend, self.limits, self.gate = backend, limits, gate
        meta = backend.metadata
        self.samples = [s for s in meta.get("samples", []) if (backend.export_dir / s["file"]).is_file()]
        self.clip = (meta["frames"], meta["frame_size"], meta["channels"])

    async def page(self, request: Request) -> Response:
        return Response(PAGE.read_bytes(), media_type="text/html; charset=utf-8")

    async def favicon(self, request: Request) -> Response:
        return Response(status_code=204)

    async def sample_list(self, request: Request) -> Response:
        items = [{"index": i, "url": f"/ui/samples/{i}.gif", "labels": s.get("labels", {})} for i, s in enumerate(self.samples)]
        meta = self.backend.metadata
        body = {
            "model": meta["name"],
            "version": meta["version"],
            "dataset": meta.get("dataset"),
            "frames": meta["frames"],
            "frame_size": meta["frame_size"],
            "samples": items,
        }
        return Response(rest_format.dumps(body), media_type="application/json")

    async def sample_gif(self, request: Request) -> Response:
        index = request.path_params["index"]
        if index >= len(self.samples):
            raise not_found(f"no sample {index}; this export has {len(self.samples)}")
        data = (self.backend.export_dir / self.samples[index]["file"]).read_bytes()
        return Response(data, media_type="image/gif", headers={"Cache-Control": "max-age=3600"})

    async def fit(self, request: Request) -> Response:
        body = await read_body(request, self.limits.max_body_bytes, self.limits.timeout_s)
        return Response(await self.gate.run(self._fit, body), media_type="application/json")

    def _fit(self, body: bytes) -> bytes:
        request = rest_format.parse_json(body)
        label = request.get("label", "upload")
        if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL:
            raise invalid_argument(f"label must be a string of 1 to {MAX_LABEL} characters")
        if not isinstance(request.get("gif"), str):
            raise invalid_argument(f'{label}: expected {{"gif": "<base64 GIF>"}}')
        try:
            data = base64.b64decode(request["gif"], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_argument(f"{label}: gif must be base64 text") from None
        frames, size, channels = self.clip
        clip, notes = gifs.decode_upload(data, frames, size, channels, label=label)
        result: dict[str, Any] = {"clip": base64.b64encode(clip_images.film_strip_png(clip)).decode("ascii"), "notes": notes}
        return rest_format.dumps(result)


def routes(backend: Backend, limits: Limits, gate: Gate, guarded: Callable) -> list[Route]:
    page = WebPage(backend, limits, gate)
    return [
        Route("/", page.page, methods=["GET"]),
        Route("/favicon.ico", page.favicon, methods=["GET"]),
        Route("/ui/samples", guarded(page.sample_list), methods=["GET"]),
        Route("/ui/samples/{index:int}.gif", guarded(page.sample_gif), methods=["GET"]),
        Route("/ui/fit", guarded(page.fit), methods=["POST"]),
    ]
