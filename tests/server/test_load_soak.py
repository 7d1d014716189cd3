"""Load and soak, through a real server: hundreds of tasks, each followed by its own SSE watcher that
interrupts, skips or cancels it at a random event (or lets it finish); and a long queue (1,000 tasks)
with hundreds of SSE watchers (200) waiting in it, told each change of their place. Every request
answers below 500, every stream ends with its task's terminal event, and threads, file descriptors
and memory come back to what they were (bounds below).

Minutes long, so deselected by default:
``PIXELFORGE_SOAK_TASKS=500 PIXELFORGE_SOAK_QUEUED=1000 PIXELFORGE_SOAK_QUEUE_WATCHERS=200
python -m pytest -m soak -s tests/server/test_load_soak.py``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from pixelforge.config import Settings
from pixelforge.testing.live_server import start_server

TASKS = int(os.environ.get("PIXELFORGE_SOAK_TASKS", "500"))
WATCHERS = 40  # concurrent SSE streams (and the queue depth they keep the server at)
# What may remain after the run: a few pool threads and sockets, and memory the allocator keeps.
THREADS_MORE, FDS_MORE, RSS_MORE_MB = 8, 16, 300
QUEUED = int(os.environ.get("PIXELFORGE_SOAK_QUEUED", "1000"))
QUEUE_WATCHERS = int(os.environ.get("PIXELFORGE_SOAK_QUEUE_WATCHERS", "200"))


def _usage() -> tuple[int, int, float]:
    gc.collect()
    return threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_mb()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _follow(client: httpx.Client, n: int) -> tuple[str, str, int]:
    """Submit task n, follow its events and act at a random one; returns (action, terminal, 5xx seen)."""
    rng = random.Random(n)
    action = rng.choice(["none", "none", "interrupt", "keep", "skip", "cancel"])
    params = {"prompt": f"soak {n}", "steps": rng.randint(1, 6), "batch_count": rng.randint(1, 2),
              "width": 32, "height": 32}
    created = client.post("/api/v1/tasks", json=params)
    if created.status_code >= 500:
        return action, "error", 1
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    at = rng.randint(1, 8)  # act at the at-th event
    errors, seen, kind = 0, 0, ""
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
                seen += 1
                if seen == at and action != "none":
                    if action == "cancel":
                        reply = client.delete(f"/api/v1/tasks/{task_id}")
                    elif action == "skip":
                        reply = client.post(f"/api/v1/tasks/{task_id}/skip")
                    else:
                        reply = client.post(f"/api/v1/tasks/{task_id}/interrupt",
                                            json={"keep_partial": action == "keep"})
                    errors += reply.status_code >= 500
    state = client.get(f"/api/v1/tasks/{task_id}").json()["state"]
    assert kind == state, (task_id, kind, state)
    return action, kind, errors


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_many_tasks_with_random_stops_leave_nothing_behind(server_model: str, tmp_path: Path) -> None:
    live = start_server(Settings(data_dir=tmp_path / "data", model=server_model, preview_every=1,
                                 max_active_per_identity=TASKS, max_queued_total=TASKS, history_limit=100))
    try:
        with live.client(headers={"X-Client-Id": "soak-client-1"}) as client:
            started = time.monotonic()
            with ThreadPoolExecutor(WATCHERS) as pool:
                # A first round warms up what is made once (the model; this pool's threads and the server's,
                # which grow to 40 each; connections): the bounds are on what the remaining rounds add.
                warm_up = min(2 * WATCHERS, TASKS // 2)
                results = list(pool.map(lambda n: _follow(client, n), range(warm_up)))
                gc.collect()
                before = (threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_mb())
                results += pool.map(lambda n: _follow(client, n), range(warm_up, TASKS))
                gc.collect()
                after = (threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_mb())
            elapsed = time.monotonic() - started
        outcomes: dict[str, int] = {}
        for _, terminal, _ in results:
            outcomes[terminal] = outcomes.get(terminal, 0) + 1
        errors = sum(e for _, _, e in results)
        print(f"\n{TASKS} tasks, {WATCHERS} watchers, {elapsed:.0f} s: {outcomes}; 5xx: {errors}; "
              f"threads {before[0]}->{after[0]}, fds {before[1]}->{after[1]}, RSS {before[2]:.0f}->{after[2]:.0f} MB")
        assert errors == 0 and "error" not in outcomes
        assert after[0] <= before[0] + THREADS_MORE and after[1] <= before[1] + FDS_MORE
        assert after[2] <= before[2] + RSS_MORE_MB
    finally:
        live.stop()


async def _watch_all(url: str, task_ids: list[str]) -> list[list[tuple[str, dict]]]:
    """Each task's stream to its end: (event type, data) in order."""
    async with httpx.AsyncClient(base_url=url, headers={"X-Client-Id": "soak-queue"}, timeout=None) as client:

        async def one(task_id: str) -> list[tuple[str, dict]]:
            events, kind = [], ""
            async with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        events.append((kind, json.loads(line.removeprefix("data: "))["data"]))
            return events

        return await asyncio.gather(*(one(task_id) for task_id in task_ids))


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_long_queue_with_hundreds_of_watchers_tells_every_move_and_leaves_nothing_behind(
    server_model: str, tmp_path: Path
) -> None:
    live = start_server(Settings(data_dir=tmp_path / "data", model=server_model, preview_every=0,
                                 max_active_per_identity=QUEUED, max_queued_total=QUEUED, history_limit=QUEUED))
    try:
        service = live.runtime.service
        with live.client(headers={"X-Client-Id": "soak-queue"}) as client:
            assert client.post("/api/v1/tasks", json={"prompt": "warm-up", "steps": 1}).status_code == 201
            service.wait(service.list(limit=1)[0].id, timeout=300)  # the model is loaded before measuring
            service.store.set_paused(True)  # the whole queue is in place before anything moves
            created = [client.post("/api/v1/tasks", json={"prompt": f"queued {n}", "steps": 1, "width": 32,
                                                          "height": 32}) for n in range(QUEUED)]
        assert [r.status_code for r in created] == [201] * QUEUED
        ids = [r.json()["id"] for r in created]
        before = _usage()
        started = time.monotonic()
        watched = ids[-QUEUE_WATCHERS:]  # the back of the queue: every move is theirs
        results: list[list[list[tuple[str, dict]]]] = []
        watching = threading.Thread(target=lambda: results.append(asyncio.run(_watch_all(live.url, watched))))
        watching.start()
        service.store.set_paused(False)
        watching.join(3000)
        elapsed = time.monotonic() - started
        after = _usage()
        assert results, "the watchers did not finish"
        streams = results[0]
        assert all(events[-1][0] == "completed" for events in streams)
        places = [[data["position"] for kind, data in events if kind == "queued"] for events in streams]
        # Places only ever go down (a watcher busy when several moves came is told the last one only).
        assert all(told == sorted(told, reverse=True) for told in places)
        told = sum(len(p) for p in places)
        assert told > QUEUE_WATCHERS  # more than the one stored queued event each: the moves were told
        print(f"\n{QUEUED} queued, {QUEUE_WATCHERS} watchers, {elapsed:.0f} s; {told} places told; "
              f"threads {before[0]}->{after[0]}, fds {before[1]}->{after[1]}, RSS {before[2]:.0f}->{after[2]:.0f} MB")
        assert after[0] <= before[0] + THREADS_MORE and after[1] <= before[1] + FDS_MORE
        assert after[2] <= before[2] + RSS_MORE_MB
    finally:
        live.stop()
