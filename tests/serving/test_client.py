"""serving.client: numpy in, numpy out through the REST API (both formats, both backends) and gRPC."""

from __future__ import annotations

import numpy as np
import pytest

from serving.client import RestClient, ServingError


@pytest.fixture(params=["columnar", "row"])
def client(request, any_server):
    with RestClient(any_server.url, fmt=request.param) as client:
        client.atol = any_server.atol
        yield client


def test_swap_encode_decode(client, sample_clips, reference_model):
    a, b = sample_clips[:2], sample_clips[2:]
    a_with_b, b_with_a = client.swap(a, b)
    expected = reference_model.swap(a, b)
    assert a_with_b.dtype == np.float32 and a_with_b.shape == a.shape
    np.testing.assert_allclose(a_with_b, expected[0], atol=client.atol, rtol=0)
    np.testing.assert_allclose(b_with_a, expected[1], atol=client.atol, rtol=0)
    latents = client.encode(sample_clips)
    for name, value in reference_model.encode(sample_clips).items():
        np.testing.assert_allclose(latents[name], value, atol=client.atol, rtol=0)
    # decoding a's motion with b's appearance is the swap
    frames = client.decode(latents["f_mean"][2:], latents["z_mean"][:2])
    np.testing.assert_allclose(frames, a_with_b, atol=max(client.atol, 1e-5), rtol=0)


def test_generate(client, reference_model):
    out = client.generate(3, seed=11)
    expected = reference_model.generate(3, seed=11)
    assert out["frames"].dtype == np.float32 and out["frames"].shape == expected["frames"].shape
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, atol=client.atol, rtol=0)
    z_f = out["z_f_used"][0]
    same_look = client.generate(2, seed=40, z_f=z_f)
    np.testing.assert_allclose(same_look["z_f_used"], np.stack([z_f, z_f]), atol=client.atol)
    np.testing.assert_allclose(
        same_look["frames"], reference_model.generate(2, seed=40, z_f=z_f)["frames"], atol=client.atol, rtol=0
    )


def test_status_metadata_and_version_pinning(onnx_server, sample_clips):
    with RestClient(onnx_server.url, version=1) as client:
        assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
        assert "swap" in client.metadata()["metadata"]["signature_def"]["signature_def"]
        assert client.swap(sample_clips[:1], sample_clips[1:2])[0].shape == sample_clips[:1].shape
    with RestClient(onnx_server.url, version=3) as client, pytest.raises(ServingError) as info:
        client.status()
    assert info.value.status == 404 and info.value.message == "Servable not found for request: Specific(s3vae, 3)"


def test_refused_requests_raise_serving_error(onnx_server, sample_clips):
    with RestClient(onnx_server.url) as client:
        with pytest.raises(ServingError) as info:
            client.swap(sample_clips[:1] * 2, sample_clips[1:2])
        assert info.value.status == 400
        assert info.value.message.startswith("swap: clip_a: values must lie in [0.0, 1.0], got [")
        nan_clip = sample_clips[:1].copy()
        nan_clip[0, 3, 10, 10, 1] = np.nan
        with pytest.raises(ServingError, match="swap: clip_a: contains NaN or infinite values"):
            client.swap(nan_clip, sample_clips[1:2])
        with pytest.raises(
            ServingError, match=r"encode: frames: expected shape \(batch, 8, 64, 64, 3\), got \(1, 8, 32, 32, 3\)"
        ):
            client.encode(sample_clips[:1, :, :32, :32])
        with pytest.raises(ServingError, match='Serving signature name: "transform" not found in signature def'):
            client.predict({"frames": sample_clips[:1]}, "transform")
        with pytest.raises(ValueError, match="count must be a positive integer"):
            client.generate(0)
        assert client.encode(sample_clips[:1])["f_mean"].shape[0] == 1  # still serving
    with (
        RestClient("http://127.0.0.1:9", timeout=5) as client,
        pytest.raises(ServingError, match="cannot reach http://127.0.0.1:9"),
    ):
        client.status()


def test_grpc_client_against_the_embedded_grpc_endpoint(onnx_backend, sample_clips, reference_model):
    """GrpcClient speaks TF Serving's gRPC protos; here to the embedded server's optional gRPC endpoint."""
    pytest.importorskip("tensorflow_serving.apis.predict_pb2", reason="the grpc extra (tensorflow-serving-api) is not installed")
    from serving.client import GrpcClient
    from serving.grpc_api import create_server
    from serving.limits import Limits

    server, port = create_server(onnx_backend, Limits(max_batch=4), "127.0.0.1:0")
    server.start()
    try:
        with GrpcClient(f"127.0.0.1:{port}") as client:
            assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
            a_with_b, b_with_a = client.swap(sample_clips[:2], sample_clips[2:])
            expected = reference_model.swap(sample_clips[:2], sample_clips[2:])
            np.testing.assert_array_equal(a_with_b, expected[0])
            np.testing.assert_array_equal(b_with_a, expected[1])
            latents = client.encode(sample_clips[:2])
            np.testing.assert_array_equal(latents["z_mean"], reference_model.encode(sample_clips[:2])["z_mean"])
            np.testing.assert_array_equal(
                client.decode(latents["f_mean"], latents["z_mean"]), reference_model.decode(latents["f_mean"], latents["z_mean"])
            )
            np.testing.assert_array_equal(client.generate(2, seed=5)["frames"], reference_model.generate(2, seed=5)["frames"])
            gifs = [(onnx_backend.export_dir / s["file"]).read_bytes() for s in reference_model.metadata["samples"]]
            strips = client.swap_images(gifs[:2], gifs[2:])  # DT_STRING tensors both ways
            wanted = reference_model.run("swap_images", {"clip_a_bytes": gifs[:2], "clip_b_bytes": gifs[2:]})
            assert strips == (list(wanted["a_with_b_appearance_bytes"]), list(wanted["b_with_a_appearance_bytes"]))
            with pytest.raises(ServingError) as info:
                client.encode(np.concatenate([sample_clips, sample_clips]))
            assert info.value.status == "INVALID_ARGUMENT" and "exceeds this server's limit of 4" in info.value.message
        with GrpcClient(f"127.0.0.1:{port}", model="other") as client, pytest.raises(ServingError) as info:
            client.status()
        assert info.value.status == "NOT_FOUND"
    finally:
        server.stop(grace=None)
