"""Fixtures of the serving tests: the tiny export's sample clips, reference outputs, and embedded servers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.serving.servers import ThreadServer


@pytest.fixture(scope="session")
def reference_model(tiny_export_dir):
    """The export run directly with onnxruntime: what every server answer is compared with."""
    from serving.onnx_runtime import OnnxModel

    return OnnxModel(tiny_export_dir)


@pytest.fixture(scope="session")
def sample_clips(tiny_export_dir, reference_model) -> np.ndarray:
    """The export's sample GIFs as model inputs: float32 (4, T, H, W, C) in [0, 1)."""
    from serving.onnx_runtime import read_gif

    meta = reference_model.metadata
    clips = np.stack([read_gif(tiny_export_dir / s["file"]) for s in meta["samples"]])
    return (clips / reference_model.pixel_scale).astype(np.float32)


@pytest.fixture(scope="session")
def onnx_backend(tiny_export_dir):
    from serving.backends import load

    return load("onnx", tiny_export_dir, threads=1)


@pytest.fixture(scope="session")
def savedmodel_backend(tiny_export_dir):
    from serving.backends import load

    return load("savedmodel", tiny_export_dir)


def _serve(backend):
    from serving.app import create_app

    server = ThreadServer(create_app(backend))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def onnx_server(onnx_backend):
    """The embedded server on the onnx backend, in a thread on a free loopback port."""
    yield from _serve(onnx_backend)


@pytest.fixture(scope="session")
def savedmodel_server(savedmodel_backend):
    """The embedded server on the savedmodel backend, in a thread on a free loopback port."""
    yield from _serve(savedmodel_backend)


@pytest.fixture(params=["onnx", "savedmodel"])
def any_server(request):
    """Each embedded server in turn, with the tolerance of its outputs against onnxruntime."""
    server = request.getfixturevalue(f"{request.param}_server")
    server.backend_kind = request.param
    server.atol = 0.0 if request.param == "onnx" else 1e-4
    return server
