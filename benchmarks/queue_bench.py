"""Queue benchmark: what a queue move costs with a long queue (issue 12, defect 10).

Runs ``pixelforge serve`` in its own process (the bundled sprite model) on a free loopback port, pauses
the queue, submits ``--queued`` tasks (default 1,000), optionally opens ``--watchers`` SSE streams on
queued tasks, then measures one after another:

- ``DELETE /api/v1/tasks/{id}`` of queued tasks (each is a queue move: every task behind moves up),
  taken from the front of the queue, where a move shifts every other task;
- ``GET /api/v1/queue`` (the caller's queued tasks with their places: here all of them);
- ``GET /api/v1/tasks/{id}`` of the last queued task, and ``POST /internal/progress`` ("In queue: X/Y");
- ``GET /api/v1/health``, the round trip of a request that reads almost nothing, for scale;
- event rows written per queue move, read from the server's database: rows added by the DELETEs
  (one ``cancelled`` event each is the floor), and rows added to the tasks that stayed queued while
  ``--starts`` tasks started and ran (0 when places are computed, not stored).

    .venv/bin/python benchmarks/queue_bench.py [--queued 1000] [--deletes 50] [--watchers 0] [--starts 3]

Prints a table and exits 0. Run it with ``PYTHONPATH=<another checkout>`` to measure that code instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from server_bench import CLIENT, start_server

from pixelforge.testing.percentiles import percentile

# A task that never runs while it is measured (the queue is paused) and runs quickly when let through.
TASK = {"prompt": "a red heart", "steps": 2}


def timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> float:
    """Milliseconds of one request, which must succeed."""
    began = time.perf_counter()
    response = client.request(method, path, **kwargs)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed


def event_rows(database: Path) -> dict[str, int]:
    """Stored events per task."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT task_id, COUNT(*) FROM events GROUP BY task_id").fetchall())


def queued_ids(client: httpx.Client) -> list[str]:
    return [task["id"] for task in client.get("/api/v1/queue").json()["mine"]]


class Watchers:
    """SSE streams held open on queued tasks from a thread of their own, until :meth:`close`."""

    def __init__(self, url: str, task_ids: list[str]) -> None:
        self.opened = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._watch(url, task_ids),), daemon=True)
        self._thread.start()
        while self.opened < len(task_ids):
            time.sleep(0.1)

    async def _watch(self, url: str, task_ids: list[str]) -> None:
        async with httpx.AsyncClient(base_url=url, headers=CLIENT, timeout=None) as client:

            async def one(task_id: str) -> None:
                async with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as response:
                    async for line in response.aiter_lines():
                        if line.startswith("event: "):
                            self.opened += 1
                            break
                    await self._stop.wait()

            await asyncio.gather(*(one(task_id) for task_id in task_ids))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def row(name: str, samples: list[float]) -> str:
    return (f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {percentile(samples, 95):.1f} "
            f"| {max(samples):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=1000, help="tasks in the queue")
    parser.add_argument("--deletes", type=int, default=50, help="queued tasks cancelled, each timed")
    parser.add_argument("--reads", type=int, default=20, help="timed reads of each read route")
    parser.add_argument("--watchers", type=int, default=0, help="SSE streams held open on queued tasks")
    parser.add_argument("--starts", type=int, default=3, help="tasks let run at the end (queue moves by start)")
    args = parser.parse_args()
    # Limits high enough for the whole queue from one identity; history long enough to keep it all.
    os.environ.update(PIXELFORGE_MAX_QUEUED_TOTAL=str(args.queued), PIXELFORGE_MAX_ACTIVE_PER_IDENTITY=str(args.queued),
                      PIXELFORGE_HISTORY_LIMIT=str(args.queued))

    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        database = data_dir / "tasks.sqlite3"
        server = start_server("sprite", data_dir)
        url = server.url
        try:
            with httpx.Client(base_url=url, headers=CLIENT, timeout=120) as client:
                client.post("/api/v1/queue/pause").raise_for_status()
                began = time.perf_counter()
                ids = [client.post("/api/v1/tasks", json=TASK).json()["id"] for _ in range(args.queued)]
                submit_s = time.perf_counter() - began
                watchers = Watchers(url, ids[args.deletes: args.deletes + args.watchers]) if args.watchers else None

                before = sum(event_rows(database).values())
                deletes = [timed(client, "DELETE", f"/api/v1/tasks/{task_id}") for task_id in ids[: args.deletes]]
                rows_per_delete = (sum(event_rows(database).values()) - before) / max(1, args.deletes)

                health = [timed(client, "GET", "/api/v1/health") for _ in range(args.reads)]
                last = ids[-1]
                queue = [timed(client, "GET", "/api/v1/queue") for _ in range(args.reads)]
                task = [timed(client, "GET", f"/api/v1/tasks/{last}") for _ in range(args.reads)]
                progress = [timed(client, "POST", "/internal/progress", json={"id_task": last})
                            for _ in range(args.reads)]
                textinfo = client.post("/internal/progress", json={"id_task": last}).json()["textinfo"]

                # Queue moves by start: let a few tasks run, then count what the tasks still waiting got.
                waiting, before_starts = queued_ids(client), event_rows(database)
                client.post("/api/v1/queue/resume").raise_for_status()
                target = ids[args.deletes + args.starts - 1]
                while client.get(f"/api/v1/tasks/{target}").json()["state"] in ("queued", "running"):
                    time.sleep(0.05)
                client.post("/api/v1/queue/pause").raise_for_status()
                still = queued_ids(client)
                after_starts = event_rows(database)
                starts = len(waiting) - len(still)  # the worker may have claimed one more before the pause
                rows_per_start = sum(after_starts[t] - before_starts[t] for t in still) / max(1, starts)
                if watchers is not None:
                    watchers.close()
        finally:
            server.stop()

    print(f"\nqueue benchmark: {args.queued} queued ({submit_s:.1f} s to submit), {args.watchers} SSE watchers; "
          f"reads at {args.queued - args.deletes} queued ({textinfo!r})\n")
    print("| request | n | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("GET /api/v1/health (the round trip of any request, for scale)", health))
    print(row(f"DELETE a queued task (the front of {args.queued} down to {args.queued - args.deletes})", deletes))
    print(row("GET /api/v1/queue (all queued tasks are the caller's)", queue))
    print(row("GET /api/v1/tasks/{id} (the last in the queue)", task))
    print(row("POST /internal/progress (the last in the queue)", progress))
    print("\n| queue move | event rows written per move |")
    print("|---|---|")
    print(f"| a DELETE of a queued task (its own `cancelled` event included) | {rows_per_delete:.1f} |")
    print(f"| a task starts ({starts} started): rows added to the {len(still)} tasks still queued | "
          f"{rows_per_start:.1f} |")


if __name__ == "__main__":
    main()
