"""Queue verbs benchmark (issue 29): "cancel my queue" and a queue move at 1,000 queued, and how far
``starts_in_s`` is from the real start over a queue of 20.

Runs ``pixelforge serve`` in its own process (the bundled sprite model) on a free loopback port and measures:

- ``POST /api/v1/queue/cancel`` with ``--queued`` tasks (default 1,000) queued, the queue paused: one store write
  for all of them (``--runs`` times, the queue filled again before each);
- ``POST /api/v1/tasks/{id}/move`` at ``--queued`` tasks queued (one identity's, the queue paused): ``--runs`` times
  each of front, up, down and back, on tasks spread over the queue; and the store's ``move`` itself at as many
  queued (four identities, fair turns) on SQLite and on a real Redis (``pixelforge/testing/redis_server.py``);
- ``starts_in_s``: one task of the kind is run first (the measurement the estimate uses), then ``--tasks`` (20)
  are submitted at once and each one's view is read; its predicted start (time of reading + ``starts_in_s``) is
  compared with its ``started_at`` once the queue has run.

    .venv/bin/python benchmarks/queue_verbs_bench.py [--queued 1000] [--runs 3] [--tasks 20] [--only-moves]

Prints its tables and exits 0 (``--only-moves``: the move rows alone).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from server_bench import CLIENT, start_server

from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.model import Task, TaskParams, new_task_id
from pixelforge.tasks.queue_order import MOVES
from pixelforge.tasks.store import TaskStore
from pixelforge.testing.percentiles import percentile
from pixelforge.testing.redis_server import RedisServer

TASK = {"prompt": "a red heart", "steps": 8}


def timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, dict]:
    began = time.perf_counter()
    response = client.request(method, path, **kwargs)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def cancel_all(client: httpx.Client, queued: int, runs: int) -> list[float]:
    client.post("/api/v1/queue/pause").raise_for_status()
    samples = []
    for _ in range(runs):
        for _ in range(queued):
            client.post("/api/v1/tasks", json=TASK).raise_for_status()
        elapsed, answer = timed(client, "POST", "/api/v1/queue/cancel", json={"scope": "queued"})
        assert len(answer["ended"]) == queued, len(answer["ended"])
        samples.append(elapsed)
    client.post("/api/v1/queue/resume").raise_for_status()
    return samples


def spread(ids: list[str], runs: int) -> list[str]:
    """``runs`` tasks spread over the queue (a move's cost may depend on where the task is)."""
    return [ids[(n * 7919 + 13) % len(ids)] for n in range(runs)]


def http_moves(client: httpx.Client, queued: int, runs: int) -> dict[str, list[float]]:
    client.post("/api/v1/queue/pause").raise_for_status()
    ids = [client.post("/api/v1/tasks", json=TASK).json()["id"] for _ in range(queued)]
    samples: dict[str, list[float]] = {to: [] for to in MOVES}
    for task_id in spread(ids, runs):
        for to in MOVES:
            elapsed, answer = timed(client, "POST", f"/api/v1/tasks/{task_id}/move", json={"to": to})
            assert answer["state"] == "queued" and answer["position"] >= 1
            samples[to].append(elapsed)
    client.post("/api/v1/queue/cancel", json={"scope": "queued"}).raise_for_status()
    client.post("/api/v1/queue/resume").raise_for_status()
    return samples


def store_moves(store: TaskStore, queued: int, runs: int) -> dict[str, list[float]]:
    ids = [store.create(Task(id=new_task_id(), owner=f"identity-{n % 4}", params=TaskParams(prompt="p")))[0].id
           for n in range(queued)]
    samples: dict[str, list[float]] = {to: [] for to in MOVES}
    for task_id in spread(ids, runs):
        for to in MOVES:
            began = time.perf_counter()
            store.move(task_id, to)
            samples[to].append((time.perf_counter() - began) * 1000)
    return samples


def both_stores(root: Path, queued: int, runs: int) -> dict[str, dict[str, list[float]]]:
    sqlite = SQLiteTaskStore(root / "tasks.sqlite3")
    try:
        measured = {"SQLite": store_moves(sqlite, queued, runs)}
    finally:
        sqlite.close()
    server = RedisServer(root / "redis").start()
    try:
        redis_store = RedisTaskStore(server.url, f"bench-{uuid.uuid4().hex}")
        try:
            measured["Redis"] = store_moves(redis_store, queued, runs)
        finally:
            redis_store.close()
    finally:
        server.stop()
    return measured


def print_moves(queued: int, over_http: dict[str, list[float]], stores: dict[str, dict[str, list[float]]]) -> None:
    print(f"\nmove at {queued} queued (fair turns)\n")
    print("| move | where | n | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    rows = [(f"POST /api/v1/tasks/{{id}}/move {to}", "SQLite server, one identity", samples)
            for to, samples in over_http.items()]
    rows += [(f"store.move {to}", f"{name} store, four identities", samples)
             for name, measured in stores.items() for to, samples in measured.items()]
    for name, where, samples in rows:
        print(f"| {name} | {where} | {len(samples)} | {statistics.median(samples):.1f} | "
              f"{percentile(samples, 95):.1f} | {max(samples):.1f} |")


def wait_done(client: httpx.Client, task_id: str) -> dict:
    while (task := client.get(f"/api/v1/tasks/{task_id}").json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    return task


def start_errors(client: httpx.Client, tasks: int) -> list[tuple[int, float, float]]:
    """(position, real wait s, predicted − real s) per task."""
    wait_done(client, client.post("/api/v1/tasks", json=TASK).json()["id"])  # the kind's measurement
    ids = [client.post("/api/v1/tasks", json=TASK).json()["id"] for _ in range(tasks)]
    predicted = {}
    for task_id in ids:
        view = client.get(f"/api/v1/tasks/{task_id}").json()
        if view["state"] == "queued" and view["starts_in_s"] is not None:
            predicted[task_id] = (view["position"], time.time(), time.time() + view["starts_in_s"])
    rows = []
    for task_id in ids:
        task = wait_done(client, task_id)
        if task_id in predicted:
            position, read_at, start = predicted[task_id]
            rows.append((position, task["started_at"] - read_at, start - task["started_at"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=1000, help="tasks queued for the cancel-all")
    parser.add_argument("--runs", type=int, default=3, help="cancel-alls timed")
    parser.add_argument("--tasks", type=int, default=20, help="tasks of the starts_in_s comparison")
    parser.add_argument("--only-moves", action="store_true", help="measure the moves alone")
    args = parser.parse_args()
    os.environ.update(PIXELFORGE_MAX_QUEUED_TOTAL=str(args.queued), PIXELFORGE_MAX_ACTIVE_PER_IDENTITY=str(args.queued),
                      PIXELFORGE_HISTORY_LIMIT=str(args.queued * args.runs + 100))
    with tempfile.TemporaryDirectory(prefix="queue-verbs-bench-") as tmp:
        server = start_server("sprite", Path(tmp) / "data")
        try:
            with httpx.Client(base_url=server.url, headers=CLIENT, timeout=300) as client:
                health = [timed(client, "GET", "/api/v1/health")[0] for _ in range(20)]
                moves = http_moves(client, args.queued, args.runs)
                if not args.only_moves:
                    cancels = cancel_all(client, args.queued, args.runs)
                    errors = start_errors(client, args.tasks)
        finally:
            server.stop()
        stores = both_stores(Path(tmp), args.queued, args.runs)

    print_moves(args.queued, moves, stores)
    if args.only_moves:
        return

    print(f"\nqueue verbs benchmark: cancel-all at {args.queued} queued ({args.runs} runs)\n")
    print("| request | n | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, samples in (("GET /api/v1/health (for scale)", health),
                          (f"POST /api/v1/queue/cancel ({args.queued} queued, all ended)", cancels)):
        print(f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {percentile(samples, 95):.1f} "
              f"| {max(samples):.1f} |")
    print(f"\nstarts_in_s against the real start, a queue of {args.tasks} ({len(errors)} estimated)\n")
    print("| position | real wait s | predicted − real s |")
    print("|---|---|---|")
    for position, wait, error in sorted(errors):
        print(f"| {position} | {wait:.2f} | {error:+.2f} |")
    if errors:
        absolute = [abs(error) for _, _, error in errors]
        relative = [abs(error) / wait for _, wait, error in errors if wait > 0.5]
        print(f"\n|error| median {statistics.median(absolute):.2f} s, p95 {percentile(absolute, 95):.2f} s, max "
              f"{max(absolute):.2f} s; relative to the wait (waits > 0.5 s): median "
              f"{statistics.median(relative) * 100 if relative else 0:.0f} %")


if __name__ == "__main__":
    main()
