"""Bad input on every route: a clear 4xx JSON answer with field paths, never a stack trace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serverkit import KEYS, QUICK, bearer, submit, wait_finished

from pixelforge.testing.live_server import LiveServer

UNKNOWN = "task(txt2img-doesnotexist0000)"


@pytest.fixture(scope="module")
def finished(keyed: LiveServer) -> dict:
    with keyed.client(headers=bearer(KEYS["alice"])) as alice:
        return wait_finished(alice, submit(alice)["id"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "loc"),
    [
        ("POST", "/api/v1/tasks", {"json": {"steps": "x"}}, 422, ["body", "steps"]),
        ("POST", "/api/v1/tasks", {"json": {"width": 30}}, 422, ["body", "width"]),
        ("POST", "/api/v1/tasks", {"json": {"height": 4096}}, 422, ["body", "height"]),
        ("POST", "/api/v1/tasks", {"json": {"batch_size": 0}}, 422, ["body", "batch_size"]),
        ("POST", "/api/v1/tasks", {"json": {"prompt": "x" * 5000}}, 422, ["body", "prompt"]),
        ("POST", "/api/v1/tasks", {"json": {"colour": "red"}}, 422, ["body", "colour"]),
        ("POST", "/api/v1/tasks", {"json": {"id": "no spaces allowed"}}, 422, ["body", "id"]),
        ("POST", "/api/v1/tasks", {"json": {"model": "no-such-model"}}, 422, ["body", "model"]),
        ("POST", "/api/v1/tasks", {"json": [1, 2]}, 422, ["body"]),
        ("POST", "/api/v1/tasks", {"content": b"{", "headers": {"content-type": "application/json"}}, 422, None),
        ("GET", "/api/v1/tasks", {"params": {"state": "sleeping"}}, 422, ["query", "state", 0]),
        ("GET", "/api/v1/tasks", {"params": {"limit": 0}}, 422, ["query", "limit"]),
        ("GET", "/api/v1/tasks", {"params": {"offset": -1}}, 422, ["query", "offset"]),
        ("GET", "/api/v1/tasks", {"params": {"scope": "theirs"}}, 422, ["query", "scope"]),
        ("GET", f"/api/v1/tasks/{UNKNOWN}", {}, 404, None),
        ("GET", f"/api/v1/tasks/{UNKNOWN}/events", {}, 404, None),
        ("POST", f"/api/v1/tasks/{UNKNOWN}/interrupt", {}, 404, None),
        ("POST", "/api/v1/tasks/{id}/interrupt", {"json": {"keep_partial": "maybe"}}, 422, ["body", "keep_partial"]),
        ("POST", "/api/v1/tasks/{id}/interrupt", {"json": {"keep": True}}, 422, ["body", "keep"]),
        ("POST", f"/api/v1/tasks/{UNKNOWN}/skip", {}, 404, None),
        ("DELETE", f"/api/v1/tasks/{UNKNOWN}", {}, 404, None),
        ("GET", "/api/v1/tasks/{id}/images/7.png", {}, 404, None),
        ("GET", "/api/v1/tasks/{id}/images/x.png", {}, 422, ["path", "index"]),
        ("GET", "/api/v1/tasks/{id}/images/0.png", {"params": {"scale": 0}}, 422, ["query", "scale"]),
        ("GET", "/api/v1/tasks/{id}/images/0.png", {"params": {"scale": 17}}, 422, None),
        ("GET", "/api/v1/tasks/{id}/images/0.png", {"params": {"scale": "big"}}, 422, ["query", "scale"]),
        ("GET", "/api/v1/tasks/{id}/previews/-3", {}, 422, ["path", "preview_id"]),
        ("GET", f"/api/v1/tasks/{UNKNOWN}/previews/latest", {}, 404, None),
        ("GET", "/sdapi/v1/progress", {"params": {"skip_current_image": "perhaps"}}, 422,
         ["query", "skip_current_image"]),
        ("POST", "/internal/progress", {"json": {"id_live_preview": "x"}}, 422, ["body", "id_live_preview"]),
        ("POST", "/sdapi/v1/txt2img", {"json": {"width": -5}}, 422, ["body", "width"]),
        ("POST", "/sdapi/v1/options", {"json": {"sd_model_checkpoint": 5}}, 422, ["body", "sd_model_checkpoint"]),
        ("GET", "/api/v1/no-such-route", {}, 404, None),
        ("PUT", "/api/v1/tasks", {"json": QUICK}, 405, None),
    ],
)
def test_bad_input_gets_a_clear_json_error(alice: httpx.Client, finished: dict, method: str, path: str,
                                           kwargs: dict, status: int, loc: list | None) -> None:
    response = alice.request(method, path.replace("{id}", finished["id"]), **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert "Traceback" not in response.text
    if loc is not None:
        assert body["detail"][0]["loc"] == loc
        assert body["message"].startswith(".".join(str(p) for p in loc))
    else:
        assert isinstance(body["detail"], (str, list)) and body["detail"]


def test_body_size_limit_for_declared_and_chunked_bodies(alice: httpx.Client, keyed: LiveServer) -> None:
    limit, image_limit = keyed.runtime.settings.max_body_bytes, keyed.runtime.settings.max_image_body_bytes
    assert image_limit > limit
    declared = alice.post("/sdapi/v1/txt2img", json={"prompt": "x" * (limit + 10)})
    assert declared.status_code == 413 and str(limit) in declared.json()["detail"]
    # A route that takes images reads more than the plain limit (a photo; here it reaches validation),
    # and refuses past its own.
    past_plain_limit = alice.post("/api/v1/tasks", json={"prompt": "x", "steps": 0, "init_image": "x" * limit})
    assert past_plain_limit.status_code == 422
    declared = alice.post("/api/v1/tasks/upload", content=b"x" * (image_limit + 10))
    assert declared.status_code == 413 and str(image_limit) in declared.json()["detail"]

    def chunks():
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    streamed = alice.post("/sdapi/v1/txt2img", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert alice.post("/api/v1/tasks", json={**QUICK, "prompt": "fits"}).status_code == 201


def test_a_broken_image_file_is_a_500_without_a_trace(alice: httpx.Client, keyed: LiveServer, finished: dict,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    task = wait_finished(alice, submit(alice)["id"])
    settings = keyed.runtime.settings
    path = settings.data_dir / keyed.runtime.service.get(task["id"]).images[0].path
    path.write_bytes(b"this is not a PNG")
    with caplog.at_level("ERROR", logger="pixelforge.server"):
        response = alice.get(f"/api/v1/tasks/{task['id']}/images/0.png", params={"scale": 2})
    assert response.status_code == 500
    message = "internal server error; the server log has the details"
    assert response.json() == {"detail": message, "message": message}
    assert any(r.exc_info for r in caplog.records if r.name == "pixelforge.server")  # the trace is logged


def test_server_package_never_imports_torch_or_the_engine() -> None:
    code = (
        "import sys, pixelforge.server, pixelforge.server.app;"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'pixelforge.engine', "
        "'pixelforge.runtime', 'diffusers'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
