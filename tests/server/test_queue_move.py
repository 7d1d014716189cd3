"""Queue moves and fair turns over HTTP (issue 29), on the keyed server (policy 'fair', the default): an identity
moves its own queued tasks, another identity gets 404, an admin's 'front' runs a task next; the queue's places, the
A1111 pending list and the queued events follow."""

from __future__ import annotations

import json

import httpx
from serverkit import sse_events, submit


def _move(client: httpx.Client, task_id: str, to: str) -> httpx.Response:
    return client.post(f"/api/v1/tasks/{task_id}/move", json={"to": to})


def test_i_move_my_own_queued_tasks_and_nobody_else_can(alice: httpx.Client, bob: httpx.Client,
                                                         paused: None) -> None:
    a1, a2, a3 = (submit(alice)["id"] for _ in range(3))
    b1 = submit(bob)["id"]
    # fair turns: alice and bob alternate, each first in first out (who goes first depends on who the server, shared
    # by the tests, served last)
    b1_place = bob.get(f"/api/v1/tasks/{b1}").json()["position"]
    assert b1_place in (1, 2)
    assert [t["position"] for t in alice.get("/api/v1/queue").json()["mine"]] == [3 - b1_place, 3, 4]
    assert _move(bob, a3, "front").status_code == 404
    assert _move(alice, a3, "top").status_code == 422
    assert alice.post(f"/api/v1/tasks/{a3}/move").status_code == 422  # no body
    assert _move(alice, a3, "front").status_code == 200
    moved = _move(alice, a3, "down")
    assert moved.status_code == 200, moved.text
    assert (moved.json()["id"], moved.json()["state"], moved.json()["position"]) == (a3, "queued", 3)
    assert [t["id"] for t in alice.get("/api/v1/queue").json()["mine"]] == [a1, a3, a2]
    assert alice.get("/internal/pending-tasks").json()["tasks"] == [a1, a3, a2]
    assert bob.get(f"/api/v1/tasks/{b1}").json()["position"] == b1_place  # another identity's place never changes
    assert _move(alice, a1, "back").json()["position"] == 4
    # the stored event says where it was queued, the next where it waits now
    told = [json.loads(m["data"])["data"] for m in sse_events(alice, a1, limit=2) if m["event"] == "queued"]
    assert (told[-1]["position"], told[-1]["size"]) == (4, 4)
    alice.delete(f"/api/v1/tasks/{a2}")
    refused = _move(alice, a2, "up")
    assert refused.status_code == 409 and "cancelled, not queued" in refused.json()["detail"]


def test_an_admin_s_front_runs_the_task_next(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client,
                                             paused: None) -> None:
    a1, a2 = submit(alice)["id"], submit(alice)["id"]
    b1, b2 = submit(bob)["id"], submit(bob)["id"]
    assert _move(bob, b2, "front").status_code == 200
    assert [t["id"] for t in bob.get("/api/v1/queue").json()["mine"]] == [b2, b1]  # bob's own first only
    run_next = _move(admin, b2, "front")
    assert run_next.status_code == 200, run_next.text
    assert run_next.json()["position"] == 1
    # bob takes the next turn, then the two alternate
    assert [t["position"] for t in bob.get("/api/v1/queue").json()["mine"]] == [1, 3]
    assert [alice.get(f"/api/v1/tasks/{i}").json()["position"] for i in (a1, a2)] == [2, 4]
