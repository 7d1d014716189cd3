"""Two identities: neither sees, watches, stops or reads the images of the other's tasks; an admin can."""

from __future__ import annotations

import httpx
import pytest
from serverkit import CORS_ORIGIN, KEYS, QUICK, bearer, running, sse_events, submit, wait_finished

from pixelforge.testing.live_server import LiveServer


@pytest.fixture(scope="module")
def alices_finished_task(keyed: LiveServer) -> dict:
    with keyed.client(headers=bearer(KEYS["alice"])) as alice:
        task = submit(alice)
        return wait_finished(alice, task["id"])


def test_bob_cannot_read_alices_task_anywhere(bob: httpx.Client, alices_finished_task: dict) -> None:
    task_id = alices_finished_task["id"]
    for path in (f"/api/v1/tasks/{task_id}", f"/api/v1/tasks/{task_id}/events",
                 f"/api/v1/tasks/{task_id}/images/0.png", f"/api/v1/tasks/{task_id}/images/0.png?scale=2",
                 f"/api/v1/tasks/{task_id}/previews/latest", f"/api/v1/tasks/{task_id}/previews/1"):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"unknown task id: {task_id}"  # same as an id that never existed
    listed = bob.get("/api/v1/tasks", params={"limit": 200}).json()
    assert task_id not in [t["id"] for t in listed["tasks"]]
    assert bob.get("/api/v1/tasks", params={"scope": "all"}).status_code == 403


def test_bob_cannot_stop_alices_running_task(keyed: LiveServer, alice: httpx.Client, bob: httpx.Client) -> None:
    with running(keyed, alice) as task:
        for method, path in (("POST", "interrupt"), ("POST", "skip"), ("DELETE", "")):
            url = f"/api/v1/tasks/{task['id']}/{path}".rstrip("/")
            assert bob.request(method, url).status_code == 404, url
        bob.post("/sdapi/v1/interrupt")
        bob.post("/sdapi/v1/skip")
        state = alice.get(f"/api/v1/tasks/{task['id']}").json()
        assert state["state"] == "running" and state["stop_requested"] is None


def test_bob_cannot_cancel_alices_queued_task(alice: httpx.Client, bob: httpx.Client, paused: None) -> None:
    task = submit(alice)
    assert bob.delete(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert bob.post(f"/api/v1/tasks/{task['id']}/interrupt").status_code == 404
    assert alice.get(f"/api/v1/tasks/{task['id']}").json()["state"] == "queued"


def test_admin_sees_and_stops_everyones_tasks(keyed: LiveServer, alice: httpx.Client, admin: httpx.Client,
                                              alices_finished_task: dict) -> None:
    task_id = alices_finished_task["id"]
    assert admin.get(f"/api/v1/tasks/{task_id}").status_code == 200
    assert admin.get(f"/api/v1/tasks/{task_id}/images/0.png").status_code == 200
    everyone = admin.get("/api/v1/tasks", params={"scope": "all", "limit": 200}).json()
    assert task_id in [t["id"] for t in everyone["tasks"]]
    with running(keyed, alice) as task:
        assert admin.delete(f"/api/v1/tasks/{task['id']}").status_code == 200
        assert [m["event"] for m in sse_events(alice, task["id"])][-1] == "interrupted"


def test_client_ids_separate_identities(open_server: LiveServer) -> None:
    with open_server.client(headers={"X-Client-Id": "client-one-123"}) as one, \
            open_server.client(headers={"X-Client-Id": "client-two-456"}) as two:
        task = submit(one)
        assert two.get(f"/api/v1/tasks/{task['id']}").status_code == 404
        assert two.post(f"/api/v1/tasks/{task['id']}/interrupt").status_code == 404
        assert two.get("/api/v1/tasks").json()["total"] == 0
        assert wait_finished(one, task["id"])["state"] == "completed"
        assert two.get(f"/api/v1/tasks/{task['id']}/images/0.png").status_code == 404
        assert one.get(f"/api/v1/tasks/{task['id']}/images/0.png").status_code == 200


def test_first_visit_sets_a_client_cookie_that_then_identifies(open_server: LiveServer) -> None:
    with open_server.client() as browser:
        first = browser.get("/")  # the web UI's page mints the browser's id; the APIs never do
        cookie = first.cookies.get("pf_client")
        assert cookie and len(cookie) >= 20
        set_cookie = first.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        task = submit(browser)
        second = browser.get(f"/api/v1/tasks/{task['id']}")
        assert second.status_code == 200 and "set-cookie" not in second.headers  # the cookie was reused
        wait_finished(browser, task["id"])
    with open_server.client() as stranger:
        assert stranger.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    with open_server.client(headers={"X-Client-Id": "bad id!"}) as bad:
        assert bad.get("/api/v1/tasks").status_code == 400


def test_client_id_mode_has_no_admin(open_server: LiveServer) -> None:
    with open_server.client(headers={"X-Client-Id": "client-three-789"}) as client:
        assert client.post("/api/v1/queue/pause").status_code == 403
        assert client.get("/api/v1/tasks", params={"scope": "all"}).status_code == 403


def test_cors_is_off_by_default_and_on_when_configured(keyed: LiveServer, open_server: LiveServer) -> None:
    preflight = {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST"}
    with keyed.client() as client:
        simple = client.get("/api/v1/health", headers={"Origin": CORS_ORIGIN})
        assert "access-control-allow-origin" not in simple.headers
        assert "access-control-allow-origin" not in client.options("/api/v1/tasks", headers=preflight).headers
    with open_server.client() as client:
        allowed = client.options("/api/v1/tasks", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == CORS_ORIGIN
        other = client.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert client.post("/api/v1/tasks", json=QUICK, headers={"Origin": CORS_ORIGIN}
                           ).headers["access-control-allow-origin"] == CORS_ORIGIN


def test_requests_without_any_identity_share_one_anonymous_local_identity(open_server: LiveServer) -> None:
    with open_server.client() as script, open_server.client() as other_script:
        assert "set-cookie" not in script.get("/api/v1/queue").headers  # a cookie-keeping script stays anonymous
        task = submit(script)
        assert other_script.get(f"/api/v1/tasks/{task['id']}").status_code == 200
        wait_finished(script, task["id"])
    with open_server.client(headers={"X-Client-Id": "client-private-1"}) as private:
        assert private.get(f"/api/v1/tasks/{task['id']}").status_code == 404
