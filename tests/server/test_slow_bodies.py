"""A body slower than the body timeout (or shorter than its Content-Length) gets 408 and the
connection is closed, instead of holding it forever."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from pixelforge.config import Settings
from pixelforge.server.errors import BodyLimitsMiddleware
from pixelforge.testing.live_server import LiveServer, start_server


def test_the_middleware_answers_408_when_the_rest_of_the_body_never_comes(run_coroutine) -> None:
    sent: list[dict] = []
    reached_app = []

    async def app(scope, receive, send) -> None:
        reached_app.append(scope)

    async def receive() -> dict:
        if not sent and not getattr(receive, "gave", False):
            receive.gave = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b'{"pro', "more_body": True}
        await asyncio.Event().wait()  # the client never sends the rest
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/tasks", "headers": [(b"content-length", b"100")]}
    middleware = BodyLimitsMiddleware(app, max_bytes=1000, image_max_bytes=1000, timeout_s=0.01)
    run_coroutine(middleware(scope, receive, send))
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"request body" in sent[1]["body"] and not reached_app


@pytest.fixture(scope="module")
def server(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=tmp_path_factory.mktemp("slow"), model=server_model, body_timeout_s=1))
    yield live
    live.stop()


def test_a_short_body_does_not_hold_the_connection(server: LiveServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/v1/tasks HTTP/1.1\r\nHost: localhost\r\nX-Client-Id: slow-client-1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"prompt\": ")
        received = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its answer
            received += chunk
    assert received.startswith(b"HTTP/1.1 408") and b'"message"' in received
    with server.client(headers={"X-Client-Id": "slow-client-1"}) as client:
        assert client.get("/api/v1/tasks").json()["total"] == 0  # nothing half-submitted
