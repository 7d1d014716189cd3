"""The OpenAI Images API and MCP through a distributed deployment (`pixelforge serve --redis`): an API server
that runs nothing and one CPU worker, on a real redis-server. A generation comes back through each protocol, and
a client that goes away stops its task on the worker inside a step (held there by a hook, never a sleep)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from pixelforge.config import Settings
from pixelforge.distributed import ApiRuntime, WorkerProcess
from pixelforge.server.client_gone import CLIENT_GONE
from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold
from pixelforge.testing.live_server import LiveServer, serve_runtime
from pixelforge.testing.redis_server import RedisServer

KEY = "redis-key-0123456789"
LONG_STEPS = 150


@dataclass
class Deployment:
    server: LiveServer
    worker: WorkerProcess


@pytest.fixture(scope="module")
def deployment(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    settings = Settings(data_dir=tmp_path_factory.mktemp("shared-data"), model=server_model, device="cpu",
                        redis_url=redis.url, redis_namespace=f"t-{uuid.uuid4().hex}", api_keys={"me": KEY})
    server = serve_runtime(ApiRuntime(settings))
    worker = WorkerProcess(settings, worker_id="worker-1")
    worker.start()
    yield Deployment(server, worker)
    worker.stop()
    server.stop()
    redis.stop()


def test_openai_and_mcp_generate_through_redis(
    deployment: Deployment, run_coroutine: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    with openai.OpenAI(base_url=f"{deployment.server.url}/v1", api_key=KEY, max_retries=0) as client:
        assert client.images.generate(prompt="a cat", extra_body={"steps": 3}).data[0].b64_json

    async def over_mcp() -> tuple[Any, list[float]]:
        seen: list[float] = []

        async def progress(value: float, total: float | None, message: str | None) -> None:
            seen.append(value)

        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"},
                                      timeout=httpx2.Timeout(30, read=None)) as http, \
                Client(streamable_http_client(f"{deployment.server.url}/mcp", http_client=http)) as mcp:
            result = await mcp.call_tool("generate_image", {"prompt": "a dog", "steps": 3}, progress_callback=progress)
            return result, seen

    result, seen = run_coroutine(over_mcp())
    assert not result.is_error and (result.structured_content or {})["state"] == "completed"
    assert len(seen) >= 3 and seen == sorted(seen)


def test_an_openai_client_that_goes_away_stops_its_task_on_the_worker(
    deployment: Deployment, run_coroutine: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    service, worker = deployment.worker.service, deployment.worker

    def running_id() -> str | None:
        task_id = worker.worker.health().task_id
        return task_id if task_id is not None and service.get(task_id).progress.step >= 1 else None

    model = worker.backend.load(worker.settings.model, None, 1.0)
    hold = Hold(getattr(model.pipe, model.denoiser_name), when=lambda: running_id() is not None,
                until=lambda timeout: (task_id := running_id()) is not None
                and (token := worker.tokens.running(task_id)) is not None and token.wait(timeout),
                note=lambda: service.get(running_id()))

    async def abandon() -> str:
        async with openai.AsyncOpenAI(base_url=f"{deployment.server.url}/v1", api_key=KEY, max_retries=0) as client:
            request = asyncio.ensure_future(client.images.generate(prompt="a slow dragon",
                                                                   extra_body={"steps": LONG_STEPS}))
            assert await asyncio.to_thread(hold.reached.wait, 60), "the task must be held after a step"
            task_id = running_id()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            assert task_id is not None
            return task_id

    try:
        task = service.wait(run_coroutine(abandon()), timeout=60)
    finally:
        hold.remove()
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == CLIENT_GONE
    assert task.progress.step == hold.noted.progress.step  # stopped inside the step it was held in
