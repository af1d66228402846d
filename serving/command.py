"""``python -m serving --export-dir DIR``: serve an export over TF Serving's REST API (and the web page).

The socket is bound before the model loads, so a busy port fails in a second with one line; the first
line on stdout is ``serving NAME version V (BACKEND) on http://HOST:PORT`` (with the real port when
``--port 0`` picked a free one), followed by ``grpc on HOST:PORT`` with ``--grpc-port``.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Sequence

from s3vae_tf import cli
from s3vae_tf.errors import UsageError
from serving import backends
from serving.backends import BACKENDS
from serving.limits import Limits
from serving.onnx_runtime import ExportError


def build_parser() -> argparse.ArgumentParser:

    d = Limits()
    parser = cli.ArgumentParser(
        prog="serving",
        description="python -m serving: serve an export directory over TF Serving's REST API, with a web page (swap, generate) at /.",
    )
    parser.add_argument("--export-dir", required=True, type=Path, metavar="DIR", help="a directory written by python -m export")
    parser.add_argument("--backend", choices=BACKENDS, default="onnx", help="onnx (default; no TensorFlow) or savedmodel")
    parser.add_argument(
        "--onnx-precision",
        choices=("auto", "float32", "int8"),
        default="auto",
        help="the onnx backend's models: auto (default: int8 when the export has them, else float32), float32 or int8",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the server)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501, TF Serving's REST port; 0 = any free port)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help="also serve TF Serving's gRPC API on this port (8500 in TF Serving; needs the grpc extra and loads TensorFlow)",
    )
    parser.add_argument(
        "--max-request-mb",
        type=float,
        default=d.max_body_bytes / 2**20,
        help=f"largest request body in MiB (default {d.max_body_bytes >> 20})",
    )
    parser.add_argument("--max-batch", type=int, default=d.max_batch, help=f"most clips per call (default {d.max_batch})")
    parser.add_argument(
        "--concurrency", type=int, default=d.concurrency, help=f"requests processed at once (default {d.concurrency})"
    )
    parser.add_argument(
        "--queue", type=int, default=d.max_queue, help=f"requests waiting beyond that before 429 (default {d.max_queue})"
    )
    parser.add_argument(
        "--timeout", type=float, default=d.timeout_s, help=f"seconds per request before 504 (default {d.timeout_s:g})"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads per model call (default: cores / --concurrency, at least 1)"
    )
    parser.add_argument("--no-page", action="store_true", help="serve the REST API only, no web page at /")
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="log level (default warning)"
    )
    return parser


def limits_from(args: argparse.Namespace):

    try:
        return Limits(
            max_body_bytes=int(args.max_request_mb * 2**20),
            max_batch=args.max_batch,
            concurrency=args.concurrency,
            max_queue=args.queue,
            timeout_s=args.timeout,
        )
    except ValueError as exc:
        raise UsageError(
            str(exc)
            .replace("max_body_bytes", "--max-request-mb")
            .replace("max_batch", "--max-batch")
            .replace("max_queue", "--queue")
            .replace("timeout_s", "--timeout")
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (UsageError naming the address when it cannot be had)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def start_grpc(backend, limits, host: str, port: int):
    """The optional gRPC endpoint, started, and the address it listens on."""
    try:
        from serving.grpc_api import create_server

        server, bound = create_server(backend, limits, f"{host}:{port}")
    except (ImportError, OSError, RuntimeError) as exc:
        raise UsageError(f"--grpc-port {port}: {exc}") from None
    server.start()
    return server, f"{host}:{bound}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag, port in (("--port", args.port), ("--grpc-port", args.grpc_port)):
        if port is not None and not 0 <= port <= 65535:
            raise UsageError(f"{flag} must be in [0, 65535], got {port}")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.backend == "savedmodel" and args.onnx_precision == "int8":
        raise UsageError("--onnx-precision int8 needs --backend onnx (the SavedModel is float32)")
    limits = limits_from(args)
    if not args.export_dir.is_dir():
        raise UsageError(f"--export-dir {args.export_dir} does not exist")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    sock = bind(args.host, args.port)
    try:
        # lazy: the server (uvicorn, Starlette) comes with the optional 'serve' extra
        import uvicorn

        from serving.app import create_app

        threads = args.threads or max(1, (os.cpu_count() or 1) // limits.concurrency)
        try:
            backend = backends.load(args.backend, args.export_dir, threads=threads, precision=args.onnx_precision)
        except ExportError as exc:
            raise UsageError(str(exc)) from None
        app = create_app(backend, limits, web_page=not args.no_page)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        grpc_server, grpc_address = (
            start_grpc(backend, limits, shown, args.grpc_port) if args.grpc_port is not None else (None, "")
        )
        running = f"{backend.kind}: {backend.detail}" if backend.detail else backend.kind
        print(f"serving {backend.name} version {backend.version} ({running}) on http://{shown}:{port}", flush=True)
        if grpc_server is not None:
            print(f"grpc on {grpc_address}", flush=True)
        config = uvicorn.Config(
            app, log_level=args.log_level, access_log=args.log_level in ("debug", "info"), timeout_graceful_shutdown=5
        )
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            if grpc_server is not None:
                grpc_server.stop(grace=2)
    finally:
        sock.close()
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="serving")


if __name__ == "__main__":
    sys.exit(entry())
