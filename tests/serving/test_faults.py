"""Bad requests get a clear 4xx, the server process survives them, and the next good request succeeds."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import httpx
import numpy as np
import pytest

from tests.serving.servers import ProcessServer, ThreadServer, post_json, raw_exchange, status_of

MAX_MB = 4


@pytest.fixture(scope="module")
def server(tiny_export_dir, tmp_path_factory):
    """``python -m serving`` in a subprocess with small limits."""
    server = ProcessServer(
        tiny_export_dir,
        "--max-request-mb",
        str(MAX_MB),
        "--max-batch",
        "4",
        "--concurrency",
        "1",
        "--queue",
        "2",
        "--threads",
        "1",
    )
    yield server
    stderr = server.stop()
    assert "Traceback" not in stderr, stderr[-3000:]


@pytest.fixture(scope="module")
def good(sample_clips, reference_model):
    """A valid swap request and its expected answer."""
    body = json.dumps(
        {"signature_name": "swap", "inputs": {"clip_a": sample_clips[:1].tolist(), "clip_b": sample_clips[1:2].tolist()}}
    )
    return body, reference_model.swap(sample_clips[:1], sample_clips[1:2])


def assert_serving(server, good) -> None:
    """The process is alive and answers a good request correctly."""
    assert server.alive()
    status, body = post_json(f"{server.url}/v1/models/s3vae:predict", good[0])
    assert status == 200, body
    np.testing.assert_array_equal(np.asarray(body["outputs"]["a_with_b_appearance"], np.float32), good[1][0])


def predict(server, body: bytes | str) -> tuple[int, dict]:
    return post_json(f"{server.url}/v1/models/s3vae:predict", body)


def clip(value: float = 0.5, batch: int = 1, size: int = 64) -> list:
    return np.full((batch, 8, size, size, 3), value, np.float32).tolist()


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"inputs": ', "JSON Parse error: Expecting value: line 1 column 12 (char 11)"),
        (b"swap these please", "JSON Parse error: Expecting value: line 1 column 1 (char 0)"),
        (b"", "JSON Parse error: Expecting value: line 1 column 1 (char 0)"),
        (b'{"inputs": "\xff\xfe"}', "JSON Parse error: the body is not UTF-8 (invalid start byte at offset 12)"),
        (b"[1, 2, 3]", "JSON Value: the request body must be a JSON object, got list"),
        (b"[" * 100000 + b"]" * 100000, "JSON Parse error: nested too deeply"),
    ],
)
def test_malformed_json(server, good, body, message):
    assert predict(server, body) == (400, {"error": message})
    assert_serving(server, good)


@pytest.mark.parametrize(
    "request_body, message",
    [
        ({"signature_name": "morph", "inputs": {}}, 'Serving signature name: "morph" not found in signature def'),
        ({"signature_name": 3, "inputs": {}}, "'signature_name' must be a string"),
        ({"signature_name": "encode"}, "Missing 'inputs' or 'instances' key"),
        (
            {"signature_name": "encode", "inputs": {"frames": clip()}, "instances": []},
            "Not both 'instances' and 'inputs' keys can be specified",
        ),
        ({"signature_name": "encode", "instances": []}, "'instances' must be a non-empty list"),
        ({"signature_name": "swap", "inputs": clip()}, "'inputs' must be an object naming each input: clip_a, clip_b"),
        ({"signature_name": "swap", "instances": clip()}, "each instance must be an object naming each input: clip_a, clip_b"),
        ({"signature_name": "swap", "inputs": {"clip_a": clip()}}, "swap: missing input clip_b; expected clip_a, clip_b"),
        (
            {"signature_name": "swap", "inputs": {"clip_a": clip(), "clip_b": clip(), "clip_c": clip()}},
            "unknown input clip_c; expected clip_a, clip_b",
        ),
        (
            {"signature_name": "encode", "inputs": {"frames": clip(size=32)}},
            "encode: frames: expected shape (batch, 8, 64, 64, 3), got (1, 8, 32, 32, 3)",
        ),
        (
            {"signature_name": "encode", "inputs": {"frames": clip()[0]}},
            "encode: frames: expected shape (batch, 8, 64, 64, 3), got (8, 64, 64, 3)",
        ),
        (
            {"signature_name": "encode", "inputs": {"frames": [[0.5] * 3, [0.5] * 2]}},
            "frames: the nested lists are ragged (rows of different lengths) or hold nulls or integers too large for 64 bits",
        ),
        ({"signature_name": "encode", "inputs": {"frames": [["a"]]}}, "frames: expected a (nested) list of numbers, got strings"),
        ({"signature_name": "encode", "inputs": {"frames": [[True]]}}, "frames: expected numbers (float32), got booleans"),
        (
            {"signature_name": "encode", "inputs": {"frames": clip(batch=5)}},
            "encode: batch of 5 exceeds this server's limit of 4 (--max-batch)",
        ),
        (
            {"signature_name": "swap", "inputs": {"clip_a": clip(batch=2), "clip_b": clip()}},
            "swap: clip_b has batch size 1 but clip_a has 2",
        ),
        (
            {"signature_name": "encode", "inputs": {"frames": clip(1.5)}},
            "encode: frames: values must lie in [0.0, 1.0], got [1.5, 1.5]",
        ),
        (
            {
                "signature_name": "generate",
                "inputs": {"seed": [0.5], "z_f": [[0] * 8], "z_t": [[[0] * 4] * 8], "fix_z_f": [False], "fix_z_t": [False]},
            },
            "seed: expected integers (int32), got numbers",
        ),
        (
            {
                "signature_name": "generate",
                "inputs": {"seed": [1], "z_f": [[0] * 8], "z_t": [[[0] * 4] * 8], "fix_z_f": [0], "fix_z_t": [False]},
            },
            "fix_z_f: expected booleans (true/false), got integers",
        ),
        (
            {
                "signature_name": "generate",
                "inputs": {"seed": [-1], "z_f": [[0] * 8], "z_t": [[[0] * 4] * 8], "fix_z_f": [False], "fix_z_t": [False]},
            },
            "generate: seed: values must lie in [0, 2147483646], got [-1, -1]",
        ),
    ],
)
def test_wrong_requests(server, good, request_body, message):
    assert predict(server, json.dumps(request_body)) == (400, {"error": message})
    assert_serving(server, good)


@pytest.mark.parametrize(
    "token, message",
    [
        ("NaN", "encode: frames: contains NaN or infinite values"),
        ("Infinity", "encode: frames: contains NaN or infinite values"),
        ("-Infinity", "encode: frames: contains NaN or infinite values"),
        ("1e39", "frames: values overflow float32"),
        (
            "null",
            "frames: the nested lists are ragged (rows of different lengths) or hold nulls or integers too large for 64 bits",
        ),
    ],
)
def test_non_finite_payloads(server, good, token, message):
    text = json.dumps({"signature_name": "encode", "inputs": {"frames": clip()}})
    body = text.replace("0.5", token, 1)  # one bad value among 98304
    assert body != text
    assert predict(server, body) == (400, {"error": message})
    assert_serving(server, good)


def test_oversize_bodies(server, good):
    limit = MAX_MB << 20
    message = f'{{"error":"request body exceeds the limit of {limit} bytes"}}'.encode()
    # declared too large: refused from the headers, before a byte of the body is read
    head = f"POST /v1/models/s3vae:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
    answer = raw_exchange(server.port, head.encode())
    assert status_of(answer) == 413 and answer.endswith(message)
    # chunked, so the size is only known while reading: refused once past the limit
    big = b'{"inputs": [' + b"0.5," * (limit // 4) + b"0.5]}"
    response = httpx.post(
        f"{server.url}/v1/models/s3vae:predict", content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]), timeout=60
    )
    assert response.status_code == 413 and response.content == message
    # an ordinary client sending the whole oversize body still gets the 413
    response = httpx.post(f"{server.url}/v1/models/s3vae:predict", content=big, timeout=60)
    assert response.status_code == 413 and response.content == message
    assert_serving(server, good)


def urllib_exchange(method: str, url: str, body: bytes) -> tuple[int, bytes]:
    """The status and body Python's standard-library client receives (it reads only after sending all)."""
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("client", ["urllib", "httpx"])
@pytest.mark.parametrize(
    "method, path, megabytes, status, message",
    [
        ("POST", "/v1/models/no-such-model:predict", 8, 404, "Servable not found for request: Latest(no-such-model)"),
        ("POST", "/v1/models/s3vae/versions/7:predict", 8, 404, "Servable not found for request: Specific(s3vae, 7)"),
        ("POST", "/v1/models/s3vae:classify", 8, 400, "classify needs a classify signature"),
        ("POST", "/v1/models/s3vae/labels/stable:predict", 8, 404, "Labeled(s3vae, stable)"),
        ("POST", "/v2/models/s3vae:predict", 8, 404, "no such path: POST /v2/models/s3vae:predict"),
        ("PUT", "/v1/models/s3vae:predict", 8, 405, "method PUT not allowed"),
        ("POST", "/v1/models/s3vae:predict", 3 * MAX_MB, 413, f"request body exceeds the limit of {MAX_MB << 20} bytes"),
    ],
)
def test_early_refusals_reach_clients_still_sending(server, good, client, method, path, megabytes, status, message):
    """An answer given before the body is read arrives whole at clients that read only after sending (urllib)."""
    body = b'{"inputs": [' + b"0.5," * (megabytes << 18) + b"0.5]}"
    url = server.url + path
    if client == "urllib":
        got_status, got = urllib_exchange(method, url, body)
    else:
        response = httpx.request(method, url, content=body, headers={"Content-Type": "application/json"}, timeout=60)
        got_status, got = response.status_code, response.content
    assert got_status == status, got[:300]
    assert message in json.loads(got)["error"]
    assert_serving(server, good)


def test_client_disconnects(server, good):
    # mid-body: promise a megabyte, send a kilobyte, hang up
    head = (
        "POST /v1/models/s3vae:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    )
    for _ in range(3):
        raw_exchange(server.port, head.encode() + b'{"inputs": {"frames": [' + b"0.5," * 250, read=False)
    assert_serving(server, good)
    # mid-inference: a complete request, then hang up before the answer; more of them than the server's
    # 1 worker + 2 queue slots, so a slot that leaked would leave the server answering 429 for ever
    body = good[0].encode()
    request = f"POST /v1/models/s3vae:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    for _ in range(5):
        raw_exchange(server.port, request.encode() + body, read=False)
    deadline = time.monotonic() + 20
    while predict(server, good[0])[0] == 429 and time.monotonic() < deadline:
        time.sleep(0.2)  # the abandoned requests still run; wait for the queue to drain
    assert_serving(server, good)


class SlowBackend:
    """Wraps a backend; every model call first sleeps ``delay`` seconds (set by the test)."""

    def __init__(self, backend):
        self.inner, self.delay = backend, 0.0
        self.__dict__.update({k: getattr(backend, k) for k in ("export_dir", "metadata", "name", "version", "kind")})

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.inner.predict(*args, **kwargs)


def test_timeout_and_bounded_concurrency(onnx_backend, good):
    from serving.app import create_app
    from serving.limits import Limits

    # The timeout leaves a normal request (0.1-0.7 s here, parsing and encoding 2.4 MB of JSON) wide margin
    # on a slower or busier CPU; the slow calls take well past it.
    timeout = 4
    backend = SlowBackend(onnx_backend)
    app = create_app(backend, Limits(concurrency=1, max_queue=1, timeout_s=timeout))
    server = ThreadServer(app)
    try:
        backend.delay = 2.5 * timeout
        results: list = [None] * 3

        def call(i):
            results[i] = predict(server, good[0])

        threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
            time.sleep(0.1)
        for thread in threads:
            thread.join(30)
        statuses = sorted(status for status, _ in results)
        assert statuses == [429, 504, 504], results
        messages = {body["error"] for _, body in results}
        assert f"request timed out after {timeout} s" in messages
        assert "server busy: 2 requests in progress or queued (limit 2); retry later" in messages
        deadline = time.monotonic() + 4 * timeout
        while app.state.gate.pending and time.monotonic() < deadline:
            time.sleep(0.1)  # the call still running on the worker finishes and frees it
        assert app.state.gate.pending == 0
        # a body trickling in holds no worker, but is cut off after the timeout too
        head = "POST /v1/models/s3vae:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        started = time.monotonic()
        answer = raw_exchange(server.port, head.encode() + b'{"inputs": ')
        assert status_of(answer) == 408
        assert answer.endswith(b'{"error":"request body not received within %d s"}' % timeout)
        assert timeout - 0.1 < time.monotonic() - started < timeout + 9
        backend.delay = 0.0
        status, body = predict(server, good[0])
        assert status == 200, body
        np.testing.assert_array_equal(np.asarray(body["outputs"]["a_with_b_appearance"], np.float32), good[1][0])
    finally:
        server.stop()
