"""Requests another web site makes a browser send: foreign Host headers (DNS rebinding) and cross-site
forms are refused; CORS '*' never goes with credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverkit import CORS_ORIGIN

from pixelforge.config import Settings
from pixelforge.server.origin_guard import host_allowed
from pixelforge.testing.live_server import LiveServer, start_server
from pixelforge.testing.serve_process import ServeProcess

REPO = Path(__file__).resolve().parents[2]
FOREIGN = "http://evil.example"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def serve_process(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``pixelforge serve`` with its defaults: bound to 127.0.0.1."""
    data_dir = tmp_path_factory.mktemp("origin-guard")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    server = ServeProcess(data_dir, "--model", server_model, env=env, log=data_dir / "serve.log")
    try:
        server.wait_healthy()
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "app.localhost:{port}",
                                  "LOCALHOST"])
def test_a_loopback_server_answers_localhost_names(serve_process: ServeProcess, host: str) -> None:
    response = httpx.get(f"{serve_process.url}/api/v1/health", headers={"host": host.format(port=serve_process.port)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "localhost.evil.example", "10.0.0.1"])
def test_a_loopback_server_refuses_other_hosts(serve_process: ServeProcess, host: str) -> None:
    """A rebinding site's name resolves to 127.0.0.1, but the browser still sends that name."""
    response = httpx.get(f"{serve_process.url}/api/v1/health", headers={"host": host.format(port=serve_process.port)})
    assert response.status_code == 400
    assert "PIXELFORGE_ALLOWED_HOSTS" in response.json()["message"]


def test_configured_hosts_replace_the_default() -> None:
    assert host_allowed("pixelforge.lan:7860", ["pixelforge.lan"])
    assert host_allowed("a.b.example.com", ["*.example.com"]) and not host_allowed("example.com", ["*.example.com"])
    assert not host_allowed("localhost:7860", ["pixelforge.lan"])
    assert host_allowed("anything", ["*"])


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "text/plain;charset=UTF-8", None])
@pytest.mark.parametrize("origin", [FOREIGN, "null", "http://127.0.0.1.evil.example"])
def test_a_cross_site_form_changes_nothing(open_server: LiveServer, origin: str, content_type: str | None) -> None:
    headers = {"origin": origin, **({"content-type": content_type} if content_type else {})}
    with open_server.client() as client:
        response = client.post("/sdapi/v1/interrupt", content=b"", headers=headers)
        assert response.status_code == 403
        assert "cross-site" in response.json()["message"]
        assert client.post("/api/v1/tasks", content=b"prompt=x", headers=headers).status_code == 403


def test_same_site_trusted_and_non_browser_requests_pass(open_server: LiveServer) -> None:
    with open_server.client() as client:
        assert client.post("/sdapi/v1/interrupt", headers={**FORM, "origin": open_server.url}).status_code == 200
        assert client.post("/sdapi/v1/interrupt", headers={**FORM, "origin": CORS_ORIGIN}).status_code == 200
        assert client.post("/sdapi/v1/interrupt", headers=FORM).status_code == 200  # scripts send no Origin
        # JSON from another origin needs a CORS preflight first, which the browser enforces.
        assert client.post("/sdapi/v1/interrupt", json={}, headers={"origin": FOREIGN}).status_code == 200
        assert client.get("/api/v1/tasks", headers={"origin": FOREIGN}).status_code == 200


@pytest.fixture(scope="module")
def any_origin(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=tmp_path_factory.mktemp("any-origin"), model=server_model,
                                 cors_origins=["*"]))
    yield live
    live.stop()


def test_cors_any_origin_goes_without_credentials(any_origin: LiveServer) -> None:
    headers = {"origin": FOREIGN, "cookie": "pf_client=abcdefgh12345678"}
    with any_origin.client() as client:
        response = client.get("/api/v1/tasks", headers=headers)
        preflight = client.options("/api/v1/tasks", headers={**headers, "access-control-request-method": "POST"})
    for answer in (response, preflight):
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
