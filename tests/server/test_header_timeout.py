"""A connection that never finishes its request headers is answered 408 and closed (``pixelforge
serve`` in its own process: the deadline is its HTTP protocol's, below the app)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixelforge.testing.serve_process import ServeProcess

REPO = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT_S = 1
# How long the test waits for the server to close the connection: far past the deadline.
WAIT_S = 60


@pytest.fixture(scope="module")
def serve_process(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("header-timeout")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "PIXELFORGE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    server = ServeProcess(data_dir, "--model", server_model, env=env, log=data_dir / "serve.log")
    try:
        server.wait_healthy()
        yield server
    finally:
        server.kill()


def _answer_to(server: ServeProcess, sent: bytes) -> bytes:
    """Everything the server sends on a connection that sent ``sent``, until it closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        if sent:
            sock.sendall(sent)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    return received


@pytest.mark.parametrize("sent", [b"", b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1"])
def test_unfinished_headers_are_408_and_closed(serve_process: ServeProcess, sent: bytes) -> None:
    received = _answer_to(serve_process, sent)
    assert received.startswith(b"HTTP/1.1 408") and b"request headers not received" in received


def test_a_kept_alive_connection_gets_the_deadline_for_its_next_request(serve_process: ServeProcess) -> None:
    first = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    received = _answer_to(serve_process, first + b"GET /api/v1/health HTTP/1.1\r\nHost: loc")
    assert received.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in received


def test_complete_requests_are_served(serve_process: ServeProcess) -> None:
    assert httpx.get(f"{serve_process.url}/api/v1/health").status_code == 200
