"""Server-Sent Events: order, per-task sequence ids, resume with Last-Event-ID or ?after=."""

from __future__ import annotations

import json
import threading

import httpx
from serverkit import running, sse_events, submit, wait_finished

from pixelforge.tasks.bus import Subscription
from pixelforge.testing.live_server import LiveServer

TERMINAL = {"completed", "interrupted", "failed", "cancelled"}


def test_events_arrive_in_order_with_gapless_ids(alice: httpx.Client) -> None:
    task = submit(alice, batch_count=2)
    messages = list(sse_events(alice, task["id"]))
    ids = [int(m["id"]) for m in messages]
    assert ids == list(range(1, len(ids) + 1))
    payloads = [json.loads(m["data"]) for m in messages]
    assert [p["seq"] for p in payloads] == ids and {p["task_id"] for p in payloads} == {task["id"]}
    assert [p["type"] for p in payloads] == [m["event"] for m in messages]
    types = [m["event"] for m in messages]
    assert types[0] == "queued" and payloads[0]["data"]["position"] >= 1
    assert "started" in types and types.index("started") < types.index("progress")
    assert types[-1] == "completed" and not TERMINAL & set(types[:-1])
    assert types.count("image") == 2 and types.index("image") > types.index("progress")
    steps = [p["data"]["step"] for p in payloads if p["type"] == "progress" and p["data"]["job_no"] == 0]
    assert steps == sorted(steps) and steps[-1] == 3


def test_resume_with_last_event_id_loses_nothing(alice: httpx.Client) -> None:
    task = submit(alice, steps=8)
    first = list(sse_events(alice, task["id"], limit=4))  # then the connection drops
    resumed = list(sse_events(alice, task["id"], headers={"Last-Event-ID": first[-1]["id"]}))
    everything = list(sse_events(alice, task["id"]))  # a late watcher replays the whole story
    assert [m["id"] for m in first + resumed] == [m["id"] for m in everything]
    assert [m["data"] for m in first + resumed] == [m["data"] for m in everything]
    assert resumed[-1]["event"] == "completed"


def test_resume_with_after_query_and_header_precedence(alice: httpx.Client) -> None:
    task = submit(alice)
    done = wait_finished(alice, task["id"])
    assert done["state"] == "completed"
    everything = list(sse_events(alice, task["id"]))
    after_two = list(sse_events(alice, task["id"], params={"after": 2}))
    assert [m["id"] for m in after_two] == [m["id"] for m in everything[2:]]
    header_wins = list(sse_events(alice, task["id"], params={"after": 1}, headers={"Last-Event-ID": "3"}))
    assert header_wins[0]["id"] == "4"


def test_reconnect_after_the_terminal_event_gets_204(alice: httpx.Client) -> None:
    task = submit(alice)
    last = list(sse_events(alice, task["id"]))[-1]
    assert last["event"] == "completed"
    over = alice.get(f"/api/v1/tasks/{task['id']}/events", headers={"Last-Event-ID": last["id"]})
    assert over.status_code == 204 and over.content == b""
    beyond = alice.get(f"/api/v1/tasks/{task['id']}/events", params={"after": int(last["id"]) + 50})
    assert beyond.status_code == 204


def test_cancelled_task_stream_ends_with_cancelled(alice: httpx.Client, paused: None) -> None:
    task = submit(alice)
    alice.delete(f"/api/v1/tasks/{task['id']}")
    types = [m["event"] for m in sse_events(alice, task["id"])]
    assert types == ["queued", "cancelled"]


def test_bad_resume_points_are_422(alice: httpx.Client) -> None:
    task = submit(alice)
    wait_finished(alice, task["id"])
    url = f"/api/v1/tasks/{task['id']}/events"
    bad_header = alice.get(url, headers={"Last-Event-ID": "abc"})
    assert bad_header.status_code == 422 and "Last-Event-ID" in bad_header.json()["detail"]
    bad_query = alice.get(url, params={"after": -1})
    assert bad_query.status_code == 422 and bad_query.json()["detail"][0]["loc"] == ["query", "after"]


def _stream_after(client: httpx.Client, task_id: str, stop: str, headers: dict[str, str]) -> list[str]:
    """Open the stream with a resume point, stop the task (``stop``) once it is open, collect the event types."""
    url = f"/api/v1/tasks/{task_id}/events"
    # The read timeout is shorter than the keep-alive period: a stream that only keeps alive fails.
    with client.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")  # the stream is open
        client.request(*stop.split(" ", 1))
        return [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]


def test_resume_point_past_the_end_of_a_queued_task_still_gets_its_end(alice: httpx.Client, paused: None) -> None:
    task = submit(alice)
    events = _stream_after(alice, task["id"], f"DELETE /api/v1/tasks/{task['id']}", {"Last-Event-ID": "999"})
    assert events[-1] == "cancelled"


def test_resume_point_past_the_end_of_a_running_task_still_gets_its_end(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice) as task:
        events = _stream_after(alice, task["id"], f"POST /api/v1/tasks/{task['id']}/interrupt",
                               {"Last-Event-ID": str(10**17)})
    assert events[-1] == "interrupted"


def test_a_queued_task_s_stream_tells_each_move_without_a_stored_event(alice: httpx.Client, paused: None) -> None:
    ahead, task = submit(alice), submit(alice)
    stream = sse_events(alice, task["id"], timeout=10)
    def place(message: dict) -> tuple[str, str, int, int]:
        data = json.loads(message["data"])["data"]
        return message["id"], message["event"], data["position"], data["size"]

    assert place(next(stream)) == ("1", "queued", 2, 2)
    alice.delete(f"/api/v1/tasks/{ahead['id']}")
    assert place(next(stream)) == ("1", "queued", 1, 1)  # computed from the queue move: the id repeats the latest
    alice.delete(f"/api/v1/tasks/{task['id']}")
    assert [m["event"] for m in stream] == ["cancelled"]
    stored = list(sse_events(alice, task["id"]))  # a replay holds only what is stored: no event per move
    assert [(m["id"], m["event"]) for m in stored] == [("1", "queued"), ("2", "cancelled")]


def test_a_client_gone_mid_stream_leaves_nothing_behind_and_the_next_task_runs(
    keyed: LiveServer, alice: httpx.Client
) -> None:
    bus = keyed.runtime.bus
    gone, remove = threading.Event(), bus._remove

    def removed(subscription: Subscription) -> None:  # the hook: the server let go of the stream's inbox
        remove(subscription)
        if subscription.task_id == watched:
            gone.set()

    bus._remove = removed
    try:
        with running(keyed, alice) as task:
            watched = task["id"]
            with alice.stream("GET", f"/api/v1/tasks/{watched}/events", timeout=10) as response:
                assert any(line.startswith("event: ") for line in response.iter_lines())
            # The client hung up while the task runs: the server's stream ends and drops its subscription.
            assert gone.wait(30)
    finally:
        bus._remove = remove
    assert wait_finished(alice, task["id"])["state"] == "interrupted"
    assert wait_finished(alice, submit(alice)["id"])["state"] == "completed"
