"""Server benchmark: progress push latency (step end -> SSE client) and API latency while a task runs,
with 1 and with N (default 200) concurrent SSE watchers on it.

Runs ``pixelforge serve`` in its own process on a free loopback port with the tiny Qwen-Image
pipeline (built offline into a temporary directory unless --model is given), so the clients below
do not share the server's interpreter. Push latency is the receive time of each ``progress`` event
minus the event's own ``time`` field (stamped when the worker publishes the step), both read from the
same wall clock. API latency is the round trip of GET /api/v1/tasks/{id}, GET /api/v1/queue,
GET /sdapi/v1/progress and POST /internal/progress, issued one after another while the task runs.

    .venv/bin/python benchmarks/server_bench.py [--watchers 200] [--steps 100] [--batch-count 3]

Prints a table and exits 0. The watchers and the request loop share one client process, so on a
small machine their own scheduling delay is part of what is measured (as it would be for real
clients on that machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pixelforge.testing.percentiles import percentile
from pixelforge.testing.serve_process import ServeProcess, start_serve

ADMIN_KEY = "server-bench-admin-key"
CLIENT = {"Authorization": f"Bearer {ADMIN_KEY}"}
API_ROUTES = ("task", "queue", "sdapi-progress", "internal-progress")


def start_server(model: Path | str, data_dir: Path) -> ServeProcess:
    """The benchmarks' server: previews off, one admin key (the client's), its stderr next to ``data_dir``."""
    env = {**os.environ, "PIXELFORGE_PREVIEW_EVERY": "0", "HF_HUB_OFFLINE": "1"}
    return start_serve(data_dir, "--model", str(model), "--admin-key", f"bench={ADMIN_KEY}", env=env,
                       log=data_dir.parent / "serve.log")


async def watch(client: httpx.AsyncClient, task_id: str, latencies: list[float], connected: asyncio.Event,
                counter: list[int], watchers: int) -> None:
    async with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=None) as response:
        data = None
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line[6:]
            elif line == "" and data is not None:
                received = time.time()
                event = json.loads(data)
                data = None
                if event["type"] == "queued":
                    counter[0] += 1
                    if counter[0] == watchers:
                        connected.set()
                elif event["type"] == "progress" and event["data"]["phase"] == "denoise":
                    latencies.append(received - event["time"])
                elif event["type"] in ("completed", "interrupted", "failed", "cancelled"):
                    return


async def api_round(client: httpx.AsyncClient, task_id: str, timings: dict[str, list[float]]) -> None:
    calls = {
        "task": lambda: client.get(f"/api/v1/tasks/{task_id}"),
        "queue": lambda: client.get("/api/v1/queue"),
        "sdapi-progress": lambda: client.get("/sdapi/v1/progress", params={"skip_current_image": "true"}),
        "internal-progress": lambda: client.post("/internal/progress", json={"id_task": task_id}),
    }
    for name, call in calls.items():
        started = time.perf_counter()
        response = await call()
        timings[name].append(time.perf_counter() - started)
        response.raise_for_status()


async def scenario(base: str, watchers: int, steps: int, batch_count: int) -> dict:
    limits = httpx.Limits(max_connections=watchers + 20, max_keepalive_connections=watchers + 20)
    async with httpx.AsyncClient(base_url=base, headers=CLIENT, limits=limits, timeout=60) as client:
        # The queue is paused while the watchers connect, so every step is measured under full load.
        (await client.post("/api/v1/queue/pause")).raise_for_status()
        task = (await client.post("/api/v1/tasks", json={"prompt": "benchmark knight", "steps": steps,
                                                          "width": 32, "height": 32,
                                                          "batch_count": batch_count})).json()
        latencies: list[float] = []
        connected, counter = asyncio.Event(), [0]
        streams = [asyncio.create_task(watch(client, task["id"], latencies, connected, counter, watchers))
                   for _ in range(watchers)]
        await asyncio.wait_for(connected.wait(), 120)
        (await client.post("/api/v1/queue/resume")).raise_for_status()
        timings: dict[str, list[float]] = {name: [] for name in API_ROUTES}
        while True:
            state = (await client.get(f"/api/v1/tasks/{task['id']}")).json()["state"]
            if state in ("completed", "interrupted", "failed", "cancelled"):
                break
            if state == "running":
                await api_round(client, task["id"], timings)
            else:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*streams), 120)
        return {"latencies": latencies, "timings": timings, "state": state}


def report(results: dict[int, dict]) -> None:
    print("\nProgress push latency, step end -> SSE client (ms)")
    print(f"{'watchers':>8} {'events':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for watchers, result in results.items():
        ms = [v * 1000 for v in result["latencies"]]
        cells = (percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), max(ms))
        print(f"{watchers:>8} {len(ms):>8} " + " ".join(f"{c:>8.1f}" for c in cells))
    print("\nAPI latency while the task runs (ms)")
    print(f"{'watchers':>8} {'route':<18} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}")
    for watchers, result in results.items():
        for name, values in result["timings"].items():
            if not values:
                continue
            ms = [v * 1000 for v in values]
            print(f"{watchers:>8} {name:<18} {len(ms):>5} {statistics.median(ms):>8.1f} {percentile(ms, 95):>8.1f} "
                  f"{max(ms):>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-count", type=int, default=3)
    parser.add_argument("--model", type=Path, help="pipeline directory (default: build the tiny one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-server-bench-") as tmp:
        model = args.model
        if model is None:
            from pixelforge.testing.tiny_qwen import save_tiny_qwen_pipeline

            model = save_tiny_qwen_pipeline(Path(tmp) / "tiny-qwen")
        server = start_server(model, Path(tmp) / "data")
        try:
            base = server.url
            asyncio.run(scenario(base, 1, 8, 1))  # warm-up: loads the model once
            results = {n: asyncio.run(scenario(base, n, args.steps, args.batch_count)) for n in (1, args.watchers)}
        finally:
            server.stop()
    print(f"task: {args.steps} steps x {args.batch_count} jobs, 32x32, tiny Qwen-Image pipeline, previews off; "
          f"CPU count {os.cpu_count()}")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
