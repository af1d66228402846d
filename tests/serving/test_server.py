"""The embedded server speaks TF Serving's REST API: status, metadata, predict in both formats, errors."""

from __future__ import annotations

import base64
import json
import shutil

import httpx
import numpy as np
import pytest

from serving.clip_images import read_film_strip
from tests.serving.servers import ProcessServer, get_json, post_json


@pytest.fixture(scope="module")
def feeds(sample_clips, reference_model) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of every signature, from the export's real sample clips."""
    latents = reference_model.encode(sample_clips[:2])
    rng = np.random.default_rng(0)
    f_dim, (frames, z_dim) = latents["f_mean"].shape[1], latents["z_mean"].shape[1:]
    return {
        "encode": {"frames": sample_clips[:3]},
        "decode": {
            "z_f": np.concatenate([latents["f_mean"], rng.standard_normal((1, f_dim))]).astype(np.float32),
            "z_t": np.concatenate([latents["z_mean"], rng.standard_normal((1, frames, z_dim))]).astype(np.float32),
        },
        "swap": {"clip_a": sample_clips[:2], "clip_b": sample_clips[2:4]},
        "generate": {
            "seed": np.array([3, 4, 5], np.int32),
            "z_f": np.tile(latents["f_mean"][:1], (3, 1)),
            "z_t": np.tile(latents["z_mean"][1:2], (3, 1, 1)),
            "fix_z_f": np.array([False, True, False]),
            "fix_z_t": np.array([False, False, True]),
        },
    }


def columnar(signature: str | None, inputs: dict[str, np.ndarray]) -> str:
    body = {"inputs": {k: v.tolist() for k, v in inputs.items()}}
    return json.dumps(body if signature is None else {"signature_name": signature, **body})


def rows(signature: str, inputs: dict[str, np.ndarray]) -> str:
    batch = len(next(iter(inputs.values())))
    instances = [{k: v[i].tolist() for k, v in inputs.items()} for i in range(batch)]
    return json.dumps({"signature_name": signature, "instances": instances})


def named(outputs, expected: dict) -> dict:
    """TF Serving leaves the name out when a signature has one output (decode): put it back."""
    return outputs if len(expected) > 1 else {next(iter(expected)): outputs}


def assert_outputs(got: dict, expected: dict[str, np.ndarray], atol: float) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        array = np.asarray(got[name], value.dtype)
        assert array.shape == value.shape, name
        np.testing.assert_allclose(array, value, atol=atol, rtol=0, err_msg=name)


def test_model_status(any_server):
    expected = {
        "model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    }
    assert get_json(f"{any_server.url}/v1/models/s3vae") == (200, expected)
    assert get_json(f"{any_server.url}/v1/models/s3vae/versions/1") == (200, expected)


def test_metadata_is_the_savedmodels_signature_defs(onnx_server, savedmodel_server):
    """The onnx backend rebuilds from metadata.json exactly what the SavedModel says (and TF Serving reports)."""
    status, onnx_meta = get_json(f"{onnx_server.url}/v1/models/s3vae/metadata")
    assert status == 200
    assert get_json(f"{savedmodel_server.url}/v1/models/s3vae/versions/1/metadata") == (200, onnx_meta)
    assert onnx_meta["model_spec"] == {"name": "s3vae", "signature_name": "", "version": "1"}
    defs = onnx_meta["metadata"]["signature_def"]["signature_def"]
    floats = {"encode", "decode", "swap", "generate"}
    assert set(defs) == {"serving_default", *floats, *(f"{name}_images" for name in floats), "__saved_model_init_op"}
    swap = defs["serving_default"]
    assert swap["method_name"] == "tensorflow/serving/predict"
    assert sorted(swap["outputs"]) == ["a_with_b_appearance", "b_with_a_appearance"]
    assert [d["size"] for d in swap["inputs"]["clip_a"]["tensor_shape"]["dim"]] == ["-1", "8", "64", "64", "3"]
    assert (
        defs["generate"]["inputs"]["seed"]["dtype"] == "DT_INT32" and defs["generate"]["inputs"]["fix_z_f"]["dtype"] == "DT_BOOL"
    )
    clip_a = defs["swap_images"]["inputs"]["clip_a_bytes"]
    assert clip_a["dtype"] == "DT_STRING" and [d["size"] for d in clip_a["tensor_shape"]["dim"]] == ["-1"]


@pytest.mark.parametrize("signature", ["encode", "decode", "swap", "generate"])
def test_predict_columnar_and_row_formats(any_server, feeds, reference_model, signature):
    expected = reference_model.run(signature, feeds[signature])
    url = f"{any_server.url}/v1/models/s3vae:predict"
    status, body = post_json(url, columnar(signature, feeds[signature]))
    assert status == 200, body
    assert sorted(body) == ["outputs"]
    assert_outputs(named(body["outputs"], expected), expected, any_server.atol)
    status, body = post_json(url, rows(signature, feeds[signature]))
    assert status == 200, body
    predictions = body["predictions"]
    assert len(predictions) == len(next(iter(expected.values())))
    if len(expected) > 1:
        predictions = {k: [row[k] for row in predictions] for k in predictions[0]}
    assert_outputs(named(predictions, expected), expected, any_server.atol)


def test_default_signature_is_swap_and_versions_path(onnx_server, feeds, reference_model):
    expected = reference_model.run("swap", feeds["swap"])
    for path in ("/v1/models/s3vae:predict", "/v1/models/s3vae/versions/1:predict"):
        status, body = post_json(onnx_server.url + path, columnar(None, feeds["swap"]))
        assert status == 200
        assert_outputs(body["outputs"], expected, 0.0)
    status, body = post_json(f"{onnx_server.url}/v1/models/s3vae:predict", columnar("serving_default", feeds["swap"]))
    assert status == 200 and sorted(body["outputs"]) == ["a_with_b_appearance", "b_with_a_appearance"]


def test_float32_outputs_round_trip_exactly(onnx_server, feeds, reference_model):
    """JSON carries float32 outputs without loss: parsed back they equal onnxruntime's bit for bit."""
    expected = reference_model.run("encode", feeds["encode"])
    status, body = post_json(f"{onnx_server.url}/v1/models/s3vae:predict", columnar("encode", feeds["encode"]))
    assert status == 200
    for name, value in expected.items():
        np.testing.assert_array_equal(np.asarray(body["outputs"][name], np.float32), value)


@pytest.mark.parametrize(
    "method, path, status, message",
    [
        ("GET", "/v1/models/other", 404, "Servable not found for request: Latest(other)"),
        ("GET", "/v1/models/s3vae/versions/7", 404, "Servable not found for request: Specific(s3vae, 7)"),
        ("GET", "/v1/models/s3vae/versions/7/metadata", 404, "Servable not found for request: Specific(s3vae, 7)"),
        (
            "GET",
            "/v1/models/s3vae/labels/stable",
            404,
            "Servable not found for request: Labeled(s3vae, stable) (the embedded server has no version labels)",
        ),
        ("GET", "/v1/models", 400, "Missing model name in request."),
        ("GET", "/v1/models/s3vae/extra", 400, "Malformed request: GET /v1/models/s3vae/extra"),
        ("POST", "/v1/models/other:predict", 404, "Servable not found for request: Latest(other)"),
        ("POST", "/v1/models/s3vae/versions/2:predict", 404, "Servable not found for request: Specific(s3vae, 2)"),
        (
            "POST",
            "/v1/models/s3vae:classify",
            400,
            "classify needs a classify signature; this model has predict signatures only (use :predict)",
        ),
        ("POST", "/v1/models/s3vae:explain", 400, "Malformed request: POST /v1/models/s3vae:explain"),
        ("GET", "/nothing/here", 404, "no such path: GET /nothing/here"),
        ("DELETE", "/v1/models/s3vae", 405, "method DELETE not allowed on /v1/models/s3vae"),
    ],
)
def test_wrong_paths_get_tf_serving_errors(onnx_server, method, path, status, message):
    response = httpx.request(method, onnx_server.url + path, content=b"{}", timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message}


def test_command_serves_without_tensorflow(tmp_path, tiny_export_dir, feeds, reference_model):
    """``python -m serving`` on the onnx backend starts and answers where TensorFlow cannot be imported."""
    server = ProcessServer(tiny_export_dir, "--threads", "1", block_tensorflow=True, tmp_path=tmp_path)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        status, body = post_json(f"{server.url}/v1/models/s3vae:predict", columnar("swap", feeds["swap"]))
        assert status == 200, body
        assert_outputs(body["outputs"], reference_model.run("swap", feeds["swap"]), 0.0)
    finally:
        stderr = server.stop()
    assert "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--export-dir", "/nonexistent/export"], "serving: error: --export-dir /nonexistent/export does not exist"),
        (["--port", "70000"], "serving: error: --port must be in [0, 65535], got 70000"),
        (["--max-batch", "0"], "serving: error: --max-batch must be at least 1"),
        (
            ["--backend", "tflite"],
            "serving: error: argument --backend: invalid choice: 'tflite' (choose from 'onnx', 'savedmodel')",
        ),
    ],
)
def test_command_errors_are_one_line(tiny_export_dir, flags, message, capsys):
    from serving.command import entry

    argv = flags if flags[0] == "--export-dir" else ["--export-dir", str(tiny_export_dir), *flags]
    assert entry(argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_command_reports_a_busy_port_and_a_missing_format(tmp_path, tiny_export_dir, onnx_server, capsys):
    from serving.command import entry

    assert entry(["--export-dir", str(tiny_export_dir), "--port", str(onnx_server.port)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"serving: error: cannot listen on 127.0.0.1:{onnx_server.port}: Address already in use"
    )
    copy = tmp_path / "export"
    shutil.copytree(tiny_export_dir, copy, ignore=shutil.ignore_patterns("onnx"))
    meta = json.loads((copy / "metadata.json").read_text())
    meta["paths"].pop("onnx")
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert entry(["--export-dir", str(copy), "--port", "0"]) == 2
    assert capsys.readouterr().err.strip() == f"serving: error: {copy} has no ONNX models (export it with --formats onnx)"


def test_example_requests_for_curl(tmp_path, tiny_export_dir, onnx_server, reference_model, sample_clips):
    """The request bodies the README's curl lines send are valid for every signature, in both formats."""
    from serving.examples import main

    assert main(["--export-dir", str(tiny_export_dir), "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["decode.json", "encode.json", "generate.json", "swap.json", "swap_images.json", "swap_rows.json"]
    answers = {name: post_json(f"{onnx_server.url}/v1/models/s3vae:predict", (tmp_path / name).read_bytes()) for name in names}
    assert all(status == 200 for status, _ in answers.values()), answers
    expected = reference_model.swap(sample_clips[:1], sample_clips[1:2])[0][0]
    np.testing.assert_array_equal(np.asarray(answers["swap.json"][1]["outputs"]["a_with_b_appearance"][0], np.float32), expected)
    np.testing.assert_array_equal(
        np.asarray(answers["swap_rows.json"][1]["predictions"][0]["a_with_b_appearance"], np.float32), expected
    )
    assert np.asarray(answers["generate.json"][1]["outputs"]["frames"]).shape == (2, 8, 64, 64, 3)
    (strip,) = answers["swap_images.json"][1]["outputs"]["a_with_b_appearance_bytes"]
    pixels = read_film_strip(base64.b64decode(strip["b64"]))
    np.testing.assert_array_equal(pixels, np.clip(np.rint(expected * 256.0), 0, 255).astype(np.uint8))
