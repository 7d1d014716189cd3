"""From a client giving up to its task's ``interrupted`` event, through each protocol's real client.

A real ``pixelforge serve`` process (the bundled sprite model, a 150-step task, an API key); each round a
client starts a generation, a second client (same key) follows the task's Server-Sent Events, and once the
task has run two steps the first client gives up the way it does; the time is taken from that moment to
the arrival of the ``interrupted`` event on the watching client (what a UI showing the queue sees):

- openai SDK: the request is cancelled, its connection closes (LibreChat's abort);
- A1111 txt2img: the same for a blocking ``POST /sdapi/v1/txt2img`` (httpx);
- MCP over HTTP: the mcp SDK's call is cancelled (the current protocol closes the response stream);
- MCP over stdio: the same through ``pixelforge mcp --server URL`` (``notifications/cancelled`` to the
  bridge, which gives up its own call to ``/mcp``).

Wall clock on a shared machine.

    python benchmarks/client_stop_latency.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import httpx2
import openai
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from pixelforge.testing.percentiles import percentile
from pixelforge.testing.serve_process import ServeProcess, start_serve

STEPS = 150
KEY = "bench-key-0123456789"
Start = Callable[[], Awaitable[object]]


ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PIXELFORGE_API_KEY": KEY}
TERMINAL = {"completed", "interrupted", "failed", "cancelled"}


@asynccontextmanager
async def openai_client(live: ServeProcess) -> AsyncIterator[Start]:
    async with openai.AsyncOpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0) as client:
        yield lambda: client.images.generate(prompt="a slow dragon", extra_body={"steps": STEPS})


@asynccontextmanager
async def a1111_client(live: ServeProcess) -> AsyncIterator[Start]:
    async with httpx.AsyncClient(base_url=live.url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=120) as client:
        yield lambda: client.post("/sdapi/v1/txt2img", json={"prompt": "a slow dragon", "steps": STEPS})


@asynccontextmanager
async def mcp_http_client(live: ServeProcess) -> AsyncIterator[Start]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=httpx2.Timeout(30, read=None)
                                  ) as http, Client(streamable_http_client(f"{live.url}/mcp", http_client=http)) as c:
        yield lambda: c.call_tool("generate_image", {"prompt": "a slow dragon", "steps": STEPS})


@asynccontextmanager
async def mcp_stdio_client(live: ServeProcess) -> AsyncIterator[Start]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "pixelforge.cli", "mcp", "--server", live.url],
                                   env=ENV)
    async with Client(params) as client:
        yield lambda: client.call_tool("generate_image", {"prompt": "a slow dragon", "steps": STEPS})


CLIENTS = [
    ("openai SDK", "request cancelled (connection closed)", openai_client),
    ("A1111 txt2img (httpx)", "request cancelled (connection closed)", a1111_client),
    ("MCP over HTTP (mcp SDK)", "call cancelled (response stream closed)", mcp_http_client),
    ("MCP over stdio (pixelforge mcp)", "notifications/cancelled", mcp_stdio_client),
]


async def my_running_task(watcher: httpx.AsyncClient) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = [task for task in (await watcher.get("/api/v1/queue")).json()["running"] if task["mine"]]
        if running:
            return running[0]["id"]
        await asyncio.sleep(0.01)
    raise RuntimeError("the generation never started")


async def one_stop(watcher: httpx.AsyncClient, start: Start) -> float:
    """Start a generation, give it up after two steps; milliseconds until the watcher gets 'interrupted'."""
    request = asyncio.ensure_future(start())
    task_id = await my_running_task(watcher)
    given_up = None
    async with watcher.stream("GET", f"/api/v1/tasks/{quote(task_id, safe='')}/events") as events:
        async for line in events.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: "):])
            if given_up is None and event["type"] == "progress" and event["data"]["step"] >= 2:
                given_up = time.perf_counter()
                request.cancel()
            elif event["type"] in TERMINAL:
                arrived = time.perf_counter()
                break
    await asyncio.gather(request, return_exceptions=True)
    if given_up is None or event["type"] != "interrupted":
        raise RuntimeError(f"{task_id} ended {event['type']} before its client gave up")
    return (arrived - given_up) * 1000


async def measure(live: ServeProcess, rounds: int) -> list[tuple[str, str, list[float]]]:
    rows = []
    async with httpx.AsyncClient(base_url=live.url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=120) as watcher:
        for name, how, client in CLIENTS:
            async with client(live) as start:
                await start()  # warm: the model is loaded, the connections are open
                rows.append((name, how, [await one_stop(watcher, start) for _ in range(rounds)]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        live = start_serve(Path(workdir) / "data", "--model", "sprite", "--api-key", f"bench={KEY}", env=ENV,
                           log=Path(workdir) / "serve.log")
        try:
            rows = asyncio.run(measure(live, args.rounds))
        finally:
            live.stop()
    print("| client | how it gives up | n | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, how, times in rows:
        print(f"| {name} | {how} | {len(times)} | {percentile(times, 50):.1f} | {percentile(times, 95):.1f} | "
              f"{max(times):.1f} |")


if __name__ == "__main__":
    main()
