"""The stop-and-queue vocabulary over HTTP (issue 29), on the keyed server: each route for its owner, 404 for
another identity (as every task route), a clear 422 for a bad body."""

from __future__ import annotations

import httpx
from serverkit import running, sse_events, submit, wait_finished

from pixelforge.testing.live_server import LiveServer


def test_stop_after_this_image_keeps_it_and_ends_the_task(keyed: LiveServer, alice: httpx.Client,
                                                          bob: httpx.Client) -> None:
    with running(keyed, alice, steps=6, batch_count=3) as task:
        url = f"/api/v1/tasks/{task['id']}/interrupt"
        assert bob.post(url, json={"when": "after_job"}).status_code == 404
        assert alice.post(url, json={"when": "later"}).status_code == 422
        assert alice.post(f"/api/v1/tasks/{task['id']}/skip", json={"when": "after_job"}).status_code == 422
        asked = alice.post(url, json={"when": "after_job"})
        assert asked.status_code == 200, asked.text
        stop = asked.json()["stop_requested"]
        assert (stop["kind"], stop["when"]) == ("interrupt", "after_job") and stop["at"] > 0
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and done["stop_reason"] == "user", done
    assert [(i["job_no"], i["partial"]) for i in done["images"]] == [(0, False)]
    assert done["stop_requested"] is None


def test_cancel_my_queue_ends_only_my_queued_tasks(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client,
                                                   paused: None) -> None:
    mine = [submit(alice)["id"] for _ in range(2)]
    theirs = submit(bob)["id"]
    assert alice.post("/api/v1/queue/cancel", json={"everyone": True}).status_code == 403
    assert alice.post("/api/v1/queue/cancel", json={"scope": "some"}).status_code == 422
    answer = alice.post("/api/v1/queue/cancel", json={"scope": "queued"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ended": mine}
    assert [alice.get(f"/api/v1/tasks/{i}").json()["state"] for i in mine] == ["cancelled", "cancelled"]
    assert bob.get(f"/api/v1/tasks/{theirs}").json()["state"] == "queued"
    assert alice.post("/api/v1/queue/cancel").json() == {"ended": []}
    assert admin.post("/api/v1/queue/cancel", json={"everyone": True}).json() == {"ended": [theirs]}


def test_cancel_all_interrupts_my_running_task_too(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice) as task:
        answer = alice.post("/api/v1/queue/cancel", json={"scope": "all"})
        assert answer.json() == {"ended": [task["id"]]}
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and done["stop_reason"] == "user"


def test_retry_makes_a_new_task_with_the_same_parameters(alice: httpx.Client, bob: httpx.Client,
                                                         paused: None) -> None:
    first = submit(alice, seed=1234, id="retry-me")
    url = "/api/v1/tasks/retry-me/retry"
    assert alice.post(url).status_code == 409  # still queued
    alice.delete("/api/v1/tasks/retry-me")
    assert bob.post(url).status_code == 404
    again = alice.post(url)
    assert again.status_code == 201, again.text
    retried = again.json()
    assert retried["retried_from"] == "retry-me" and retried["id"] != first["id"]
    assert retried["params"] == first["params"] and retried["state"] == "queued"
    assert first["retried_from"] is None


def test_a_queued_task_says_when_it_likely_starts(keyed: LiveServer, alice: httpx.Client, bob: httpx.Client) -> None:
    measured = wait_finished(alice, submit(alice, steps=6)["id"])  # a run of this kind of work, measured
    assert measured["state"] == "completed"
    with running(keyed, alice, steps=6) as task:
        waiting = submit(bob, steps=6)
        view = bob.get(f"/api/v1/tasks/{waiting['id']}").json()
        assert view["state"] == "queued" and view["starts_in_s"] is not None
        assert view["starts_in_s"] >= 0  # when the running task ends: its ETA, or the measured run less its time
        assert alice.get(f"/api/v1/tasks/{task['id']}").json()["starts_in_s"] is None  # running: it has started
        queued = [m for m in sse_events(bob, waiting["id"], limit=2) if m["event"] == "queued"]
        assert "starts_in_s" in queued[-1]["data"]
    done = wait_finished(bob, waiting["id"])
    assert done["state"] == "completed" and done["starts_in_s"] is None
