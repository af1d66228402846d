"""The swap page: pick two sample clips of the export (or upload GIFs) and see both swaps as animated GIFs.

::

    GET  /                     the page (serving/static/index.html, no external resources)
    GET  /ui/samples           [{"index", "url", "labels"}] of DIR/samples (from metadata.json)
    GET  /ui/samples/N.gif     one sample clip
    POST /ui/swap              {"a": {"sample": N} | {"gif": BASE64}, "b": ...}
                               -> {"a_with_b_appearance": BASE64_GIF, "b_with_a_appearance": BASE64_GIF, "notes": [...]}

``/ui/swap`` runs the export's swap signature through the same backend, checks and limits as ``:predict``.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving import gifs, rest_format
from serving.app import read_body
from serving.backends import Backend
from serving.limits import Gate, Limits
from serving.status import invalid_argument, not_found

PAGE = Path(__file__).with_name("static") / "index.html"


class SwapPage:
    """The page's endpoints over one backend: its swap signature and the export's sample GIFs."""

    def __init__(self, backend: Backend, limits: Limits, gate: Gate):
        self.backend, self.limits, self.gate = backend, limits, gate
        meta = backend.metadata
        self.samples = [s for s in meta.get("samples", []) if (backend.export_dir / s["file"]).is_file()]
        self.clip = (meta["frames"], meta["frame_size"], meta["channels"])
        self.pixel_scale = float(meta["pixel_scale"])

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

    async def swap(self, request: Request) -> Response:
        body = await read_body(request, self.limits.max_body_bytes, self.limits.timeout_s)
        return Response(await self.gate.run(self._swap, body), media_type="application/json")

    def _swap(self, body: bytes) -> bytes:
        request = rest_format.parse_json(body)
        clips, notes = [], []
        for key in ("a", "b"):
            clip, clip_notes = self._clip(key, request.get(key))
            clips.append(clip[None].astype(np.float32) / self.pixel_scale)
            notes += clip_notes
        out = self.backend.predict("swap", {"clip_a": clips[0], "clip_b": clips[1]}, self.limits.max_batch)
        result: dict[str, Any] = {
            name: base64.b64encode(gifs.encode_clip(gifs.to_pixels(out[name][0], self.pixel_scale))).decode()
            for name in ("a_with_b_appearance", "b_with_a_appearance")
        }
        result["notes"] = notes
        return rest_format.dumps(result)

    def _clip(self, key: str, choice: Any) -> tuple[np.ndarray, list[str]]:
        frames, size, channels = self.clip
        if not isinstance(choice, dict) or len(choice) != 1 or not ({"sample", "gif"} & set(choice)):
            raise invalid_argument(f'"{key}" must be {{"sample": N}} or {{"gif": "<base64 GIF>"}}')
        if "sample" in choice:
            index = choice["sample"]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.samples):
                raise invalid_argument(f"{key}: sample must be an integer in [0, {len(self.samples) - 1}], got {index!r}")
            data = (self.backend.export_dir / self.samples[index]["file"]).read_bytes()
        else:
            try:
                data = base64.b64decode(choice["gif"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise invalid_argument(f"{key}: gif must be base64 text") from None
        return gifs.decode_upload(data, frames, size, channels, label=f"clip {key.upper()}")


def routes(backend: Backend, limits: Limits, gate: Gate, guarded: Callable) -> list[Route]:
    page = SwapPage(backend, limits, gate)
    return [
        Route("/", page.page, methods=["GET"]),
        Route("/favicon.ico", page.favicon, methods=["GET"]),
        Route("/ui/samples", guarded(page.sample_list), methods=["GET"]),
        Route("/ui/samples/{index:int}.gif", guarded(page.sample_gif), methods=["GET"]),
        Route("/ui/swap", guarded(page.swap), methods=["POST"]),
    ]
