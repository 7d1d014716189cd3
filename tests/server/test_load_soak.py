"""Load and soak: hundreds of tasks, each followed by its own SSE watcher that interrupts, skips or
cancels it at a random event (or lets it finish), through a real server. Every request answers
below 500, every stream ends with its task's terminal event, and threads, file descriptors and
memory come back to what they were (bounds below).

Minutes long, so deselected by default:
``PIXELFORGE_SOAK_TASKS=500 python -m pytest -m soak -s tests/server/test_load_soak.py``.
"""

from __future__ import annotations

import gc
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
