"""Embedded servers for the serving tests: in a thread (uvicorn on a free loopback port) or as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]

BLOCK_TENSORFLOW = """
import sys

class _Blocked:
    '''Make every import of TensorFlow fail, as on a machine without it.'''
    BLOCKED = ("tensorflow", "keras", "tf_keras", "tensorflow_probability", "tf2onnx", "tensorflow_serving")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, _Blocked())
"""


class ThreadServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app):
        import uvicorn

        from serving.command import bind

        sock = bind("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the in-thread server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class ProcessServer:
    """``python -m serving --port 0 ...`` in a subprocess; the URL is read from its first line."""

    def __init__(self, export_dir: Path, *flags: str, block_tensorflow: bool = False, tmp_path: Path | None = None):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if block_tensorflow:
            (tmp_path / "sitecustomize.py").write_text(BLOCK_TENSORFLOW)
            env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
        command = [sys.executable, "-m", "serving", "--export-dir", str(export_dir), "--port", "0", *flags]
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        line = self._first_line(60)
        self.url = line.rsplit(" on ", 1)[1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def _first_line(self, timeout: float) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = result[0].strip() if result else ""
        if not line.startswith("serving "):
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line!r} {self.process.stderr.read()[-2000:]}")
        return line

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> str:
        """Stop it (SIGTERM, as a supervisor would) and return what it wrote to stderr."""
        if self.alive():
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def raw_exchange(port: int, data: bytes, read: bool = True, timeout: float = 30) -> bytes:
    """Send raw bytes to the server and return everything it answers until it closes (or nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def get_json(url: str) -> tuple[int, dict]:
    response = httpx.get(url, timeout=30)
    return response.status_code, response.json()


def post_json(url: str, body: bytes | str, timeout: float = 60) -> tuple[int, dict]:
    content = body.encode() if isinstance(body, str) else body
    response = httpx.post(url, content=content, headers={"Content-Type": "application/json"}, timeout=timeout)
    return response.status_code, response.json()
