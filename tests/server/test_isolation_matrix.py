"""Isolation, route by route: every operation of the API, called by a second identity, in both auth
modes (API keys and client ids), neither reveals nor changes anything of the first identity's tasks.

The operations come from the app's own OpenAPI schema, and the test fails when one has no check
here: a new route cannot be forgotten.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from serverkit import KEYS, QUICK, bearer, running, submit, wait_finished

from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

NEVER = "task(txt2img-neverexisted0000)"
SECRET = "alice-secret-option"
FILL = {"{index}": "0", "{kind}": "raw", "{preview_id}": "1"}


def _operations(live: LiveServer) -> set[tuple[str, str]]:
    paths = live.server.config.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


@pytest.fixture(params=["keys", "client-ids"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[LiveServer, httpx.Client, httpx.Client]]:
    """The server of the mode, and clients for alice (the owner) and bob (the second identity)."""
    if request.param == "keys":
        live = request.getfixturevalue("keyed")
        headers = [bearer(KEYS["alice"]), bearer(KEYS["bob"])]
    else:
        live = request.getfixturevalue("open_server")
        headers = [{"X-Client-Id": "matrix-alice-1"}, {"X-Client-Id": "matrix-bob-01"}]
    with live.client(headers=headers[0]) as alice, live.client(headers=headers[1]) as bob:
        yield live, alice, bob


def _fill(path: str, task_id: str) -> str:
    for key, value in FILL.items():
        path = path.replace(key, value)
    return path.replace("{task_id}", task_id)


def test_a_second_identity_reaches_nothing_of_the_first(pair) -> None:
    live, alice, bob = pair
    finished = wait_finished(alice, submit(alice)["id"])
    assert alice.post("/sdapi/v1/options", json={"samples_format": SECRET}).status_code == 200
    with running(live, alice, id="matrix-running") as task:
        # What would betray alice's tasks: the server-made id, and the stored form of the chosen one (bob may
        # well know the chosen id itself: he can choose it too, and gets his own task).
        stored = next(t.id for t in live.runtime.store.list(states=["running"], limit=5) if "matrix-running" in t.id)
        ids = [finished["id"], stored]
        before = alice.get(f"/api/v1/tasks/{task['id']}").json()

        def no_trace(response: httpx.Response) -> None:
            assert response.status_code < 500
            assert not any(task_id in response.text for task_id in ids) and SECRET not in response.text

        def stop_routes(response: httpx.Response) -> None:
            no_trace(response)
            now = alice.get(f"/api/v1/tasks/{task['id']}").json()
            assert now["state"] == "running" and now["stop_requested"] is None

        def own_task_with_alices_id(response: httpx.Response) -> None:
            assert response.status_code == 201 and response.json()["id"] == "matrix-running"
            assert response.json()["params"]["prompt"] == "bob's"
            bob.delete("/api/v1/tasks/matrix-running")

        def own_upload(response: httpx.Response) -> None:
            no_trace(response)
            assert response.status_code == 201 and response.json()["type"] == "img2img"
            bob.delete(f"/api/v1/tasks/{response.json()['id']}")

        def forbidden(response: httpx.Response) -> None:
            assert response.status_code == 403 and not live.runtime.store.is_paused()

        def waiting(response: httpx.Response) -> None:
            assert response.json()["textinfo"] == "Waiting..." and response.json()["active"] is False

        def queue_view(response: httpx.Response) -> None:
            no_trace(response)
            assert all(r["id"] is None and r["mine"] is False for r in response.json()["running"])

        calls: dict[tuple[str, str], tuple[dict, Callable[[httpx.Response], None]]] = {
            ("POST", "/api/v1/tasks"): ({"json": {**QUICK, "id": "matrix-running", "prompt": "bob's"}},
                                        own_task_with_alices_id),
            ("POST", "/api/v1/tasks/upload"): (
                {"files": {"init_image": ("s.png", png_bytes(sprite()), "image/png")},
                 "data": {"params": json.dumps({**QUICK, "prompt": "bob's"})}},
                own_upload),
            ("GET", "/api/v1/tasks"): ({"params": {"limit": 200}}, no_trace),
            ("GET", "/api/v1/queue"): ({}, queue_view),
            ("POST", "/api/v1/queue/pause"): ({}, forbidden),
            ("POST", "/api/v1/queue/resume"): ({}, forbidden),
            # Only admins end other identities' tasks (bob's own queue is his to cancel: test_queue_vocabulary).
            ("POST", "/api/v1/queue/cancel"): ({"json": {"scope": "all", "everyone": True}}, forbidden),
            ("GET", "/api/v1/health"): ({}, no_trace),
            ("GET", "/api/v1/workers"): ({}, forbidden),  # admins only: which worker runs what
            ("GET", "/api/v1/models"): ({}, no_trace),
            ("GET", "/api/v1/models/{name}/words"): ({"params": {"prompt": "bob's cat"}}, no_trace),
            ("GET", "/sdapi/v1/progress"): ({}, no_trace),
            ("POST", "/sdapi/v1/interrupt"): ({}, stop_routes),
            ("POST", "/sdapi/v1/skip"): ({}, stop_routes),
            ("POST", "/internal/progress"): ({"json": {"id_task": finished["id"]}}, waiting),
            ("GET", "/internal/pending-tasks"): ({}, no_trace),
            ("GET", "/sdapi/v1/options"): ({}, no_trace),
            ("POST", "/sdapi/v1/options"): ({"json": {"samples_format": "bob's"}}, no_trace),
            ("GET", "/sdapi/v1/sd-models"): ({}, no_trace),
            ("GET", "/sdapi/v1/samplers"): ({}, no_trace),
            ("GET", "/sdapi/v1/schedulers"): ({}, no_trace),
            ("GET", "/sdapi/v1/scripts"): ({}, no_trace),
            ("GET", "/sdapi/v1/loras"): ({}, no_trace),
            **{("GET", f"/sdapi/v1/{name}"): ({}, no_trace) for name in (
                "sd-vae", "upscalers", "latent-upscale-modes", "realesrgan-models",
                "embeddings", "hypernetworks", "face-restorers", "prompt-styles", "extensions",
                "cmd-flags", "memory")},
            ("POST", "/sdapi/v1/refresh-checkpoints"): ({}, no_trace),
            ("POST", "/sdapi/v1/refresh-loras"): ({}, no_trace),
        }
        operations = _operations(live)
        by_task = {op for op in operations if "{task_id}" in op[1]}
        # txt2img and img2img block until their task ends, behind alice's running one: checked after it below.
        blocking = {("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/img2img")}
        assert operations - by_task - blocking == set(calls), "an operation has no check"

        for (method, path), (kwargs, check) in calls.items():
            check(bob.request(method, path.replace("{name}", "sprite"), **kwargs))
        for method, path in sorted(by_task):
            unknown = bob.request(method, _fill(path, NEVER))
            for task_id in ids:
                response = bob.request(method, _fill(path, task_id))
                assert response.status_code == unknown.status_code == 404, (method, path)
                assert response.json() == {k: v.replace(NEVER, task_id) for k, v in unknown.json().items()}
        assert alice.get(f"/api/v1/tasks/{task['id']}").json()["stop_requested"] is None
        assert alice.get(f"/api/v1/tasks/{task['id']}").json()["created_at"] == before["created_at"]
    txt2img = bob.post("/sdapi/v1/txt2img", json={**QUICK, "force_task_id": finished["id"]})
    assert txt2img.status_code == 200 and f'"task_id": "{finished["id"]}"' in txt2img.json()["info"]
    img2img = bob.post("/sdapi/v1/img2img", json={**QUICK, "force_task_id": "matrix-img2img",
                                                  "init_images": [base64.b64encode(png_bytes(sprite())).decode()]})
    assert img2img.status_code == 200 and '"task_id": "matrix-img2img"' in img2img.json()["info"]
    assert alice.get("/api/v1/tasks/matrix-img2img").status_code == 404
    assert alice.get("/sdapi/v1/options").json()["samples_format"] == SECRET
    assert alice.get(f"/api/v1/tasks/{finished['id']}").json() == finished
    assert alice.get("/api/v1/tasks/matrix-running").json()["params"]["prompt"] == "a slow dragon"
    alice.post("/sdapi/v1/options", json={"samples_format": None})
