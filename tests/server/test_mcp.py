"""The MCP server driven with the real mcp SDK client: over Streamable HTTP at /mcp of a live server, and over
stdio through `pixelforge mcp` (a bridge to that server, or in its own process). Tools listed with typed schemas,
progress notifications on every step, images as PNG image content, a cancelled call stopping its task inside
a step (reached with the test hooks), and identities kept apart."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import numpy as np
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ImageContent
from PIL import Image
from serverkit import KEYS, bearer, held_after_a_step

from pixelforge.config import Settings
from pixelforge.server.mcp_server import MCP_CANCELLED
from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold
from pixelforge.testing.images import left_half_mask, png_bytes, sprite
from pixelforge.testing.live_server import LiveServer, start_server

RunCoroutine = Callable[[Coroutine[Any, Any, Any]], Any]
STEPS = 4
LONG_STEPS = 150
TOOLS = {"generate_image", "edit_image", "get_task", "cancel_task", "list_models"}


@asynccontextmanager
async def over_http(live: LiveServer, key: str | None, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None)) as http, \
            Client(streamable_http_client(f"{live.url}/mcp", http_client=http), mode=mode) as client:  # type: ignore[arg-type]
        yield client


def bridge_params(live: LiveServer, key: str) -> StdioServerParameters:
    """`pixelforge mcp --server URL` as an MCP host launches it."""
    env = {**os.environ, "PIXELFORGE_API_KEY": key, "PYTHONPATH": str(Path.cwd())}
    return StdioServerParameters(command=sys.executable, args=["-m", "pixelforge.cli", "mcp", "--server", live.url],
                                 env=env)


def pngs(result: CallToolResult) -> list[Image.Image]:
    images = [block for block in result.content if isinstance(block, ImageContent)]
    assert all(block.mime_type == "image/png" for block in images)
    return [Image.open(io.BytesIO(base64.b64decode(block.data))) for block in images]


async def generate_with_progress(client: Client) -> tuple[CallToolResult, list[tuple[float, float | None, str]]]:
    seen: list[tuple[float, float | None, str]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append((value, total, message or ""))

    result = await client.call_tool("generate_image", {"prompt": "a red apple", "steps": STEPS, "n": 2},
                                    progress_callback=progress)
    return result, seen


def check_generation(result: CallToolResult, seen: list[tuple[float, float | None, str]]) -> dict:
    assert not result.is_error, result.content
    summary = result.structured_content or {}
    assert summary["state"] == "completed" and summary["images"] == 2 and len(summary["infotexts"]) == 2
    assert "Steps: 4" in summary["infotexts"][0]
    assert [image.format for image in pngs(result)] == ["PNG", "PNG"]
    assert json.loads(result.content[-1].text)["task_id"] == summary["task_id"]  # type: ignore[union-attr]
    values = [value for value, _, _ in seen]
    assert values == sorted(set(values)), "progress only ever grows"
    messages = [message for _, _, message in seen]
    for image in (1, 2):  # a notification for every step of every image
        for step in range(1, STEPS + 1):
            assert any(m.startswith(f"step {step}/{STEPS}, image {image}/2") for m in messages), messages
    assert any("ETA" in m for m in messages)
    assert seen[-1][:2] == (100, 100) and all(value < 100 for value in values[:-1])  # 100 only once it completed
    return summary


@pytest.fixture(scope="module")
def sprite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sprite on this machine's disk, for edit_image's file paths."""
    path = tmp_path_factory.mktemp("mcp") / "sprite.png"
    path.write_bytes(png_bytes(sprite()))
    return path


async def edit_a_file(client: Client, path: Path) -> CallToolResult:
    """edit_image on a file of this machine, at strength 0 (the image comes back as it is)."""
    return await client.call_tool("edit_image", {"image": path.as_uri(), "prompt": "a frog", "strength": 0})


def check_file_edit(result: CallToolResult) -> None:
    assert not result.is_error, result.content
    [out] = pngs(result)
    assert np.array_equal(np.asarray(out.convert("RGBA")), np.asarray(sprite()))


def test_tools_have_typed_schemas_and_generation_reports_every_step(
    keyed: LiveServer, run_coroutine: RunCoroutine
) -> None:
    async def scenario() -> tuple[dict, dict, CallToolResult, list]:
        async with over_http(keyed, KEYS["alice"]) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            result, seen = await generate_with_progress(client)
            return tools["generate_image"].input_schema, tools["edit_image"].input_schema, result, seen

    generate, edit, result, seen = run_coroutine(scenario())
    assert generate["required"] == ["prompt"] and generate["properties"]["prompt"]["type"] == "string"
    assert generate["properties"]["n"]["maximum"] == 16 and "ctx" not in generate["properties"]
    assert set(edit["required"]) == {"image", "prompt"} and edit["properties"]["strength"]["maximum"] == 1
    summary = check_generation(result, seen)
    task = keyed.runtime.service.get(summary["task_id"])  # an ordinary task of the caller's, on the same queue
    assert task.owner == "key:alice" and task.params.batch_count == 2


def test_edit_image_keeps_the_unmasked_pixels_and_models_are_listed(
    keyed: LiveServer, run_coroutine: RunCoroutine, sprite_file: Path
) -> None:
    image = base64.b64encode(png_bytes(sprite())).decode()
    mask = base64.b64encode(png_bytes(left_half_mask())).decode()

    async def scenario() -> tuple[CallToolResult, CallToolResult, CallToolResult]:
        async with over_http(keyed, KEYS["alice"]) as client:
            edited = await client.call_tool("edit_image", {"image": image, "mask": mask, "prompt": "a frog",
                                                           "strength": 1.0, "steps": STEPS})
            bad = await client.call_tool("edit_image", {"image": "not base64!", "prompt": "a frog"})
            # a file of the server's machine is never read for a caller over HTTP
            path = await client.call_tool("edit_image", {"image": str(sprite_file), "prompt": "a frog"})
            assert path.is_error and "image: is not valid base64" in path.content[0].text  # type: ignore[union-attr]
            return edited, bad, await client.call_tool("list_models", {})

    edited, bad, models = run_coroutine(scenario())
    [out] = pngs(edited)
    assert np.array_equal(np.asarray(out.convert("RGBA"))[:, 16:], np.asarray(sprite())[:, 16:])
    assert bad.is_error and "image: is not valid base64" in bad.content[0].text  # type: ignore[union-attr]
    names = [entry["name"] for entry in (models.structured_content or {})["result"]]
    assert keyed.runtime.settings.model in names


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_a_cancelled_call_stops_its_task_inside_a_step(keyed: LiveServer, run_coroutine: RunCoroutine,
                                                       mode: str) -> None:
    """auto: the current protocol, where giving up a call closes its response stream; legacy: the 2025
    protocol, the client sending notifications/cancelled and closing the stream."""

    async def cancel_midway(hold: Hold) -> None:
        async with over_http(keyed, KEYS["alice"], mode) as client, anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "generate_image", {"prompt": "a slow dragon", "steps": LONG_STEPS})
            assert await anyio.to_thread.run_sync(hold.reached.wait, 60), "the task must be held after a step"
            group.cancel_scope.cancel()

    check_cancelled(keyed, run_coroutine, cancel_midway)


def check_cancelled(live: LiveServer, run_coroutine: RunCoroutine, cancel_midway: Callable) -> None:
    service = live.runtime.service
    with held_after_a_step(live) as hold:
        run_coroutine(cancel_midway(hold))
        [task] = service.list(owner="key:alice", limit=1)
        task = service.wait(task.id, timeout=60)
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == MCP_CANCELLED
    assert task.progress.step == hold.noted.progress.step  # stopped inside the step it was held in


def test_a_server_stopped_in_the_same_process_leaves_the_others_streams_open(
    keyed: LiveServer, server_model: str, tmp_path: Path, run_coroutine: RunCoroutine
) -> None:
    """The 2025 protocol answers over SSE; stopping one server once ended every later SSE answer of the others."""
    start_server(Settings(data_dir=tmp_path, model=server_model)).stop()

    async def legacy_call() -> set[str]:
        async with over_http(keyed, KEYS["alice"], "legacy") as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    assert run_coroutine(legacy_call()) == TOOLS


def test_one_keys_client_cannot_see_or_stop_anothers_tasks(keyed: LiveServer, run_coroutine: RunCoroutine) -> None:
    async def scenario() -> tuple[str, CallToolResult, CallToolResult, CallToolResult]:
        async with over_http(keyed, KEYS["alice"]) as alice:
            done = await alice.call_tool("generate_image", {"prompt": "a cat", "steps": 2})
            task_id = (done.structured_content or {})["task_id"]
            async with over_http(keyed, KEYS["bob"]) as bob:
                seen = await bob.call_tool("get_task", {"task_id": task_id})
                stopped = await bob.call_tool("cancel_task", {"task_id": task_id})
            return task_id, seen, stopped, await alice.call_tool("get_task", {"task_id": task_id})

    task_id, seen, stopped, own = run_coroutine(scenario())
    for refused in (seen, stopped):
        assert refused.is_error and f"unknown task id: {task_id}" in refused.content[0].text  # type: ignore[union-attr]
    assert not own.is_error and (own.structured_content or {})["state"] == "completed" and len(pngs(own)) == 1

    async def wrong_key() -> None:
        async with over_http(keyed, "not-a-key") as client:
            await client.list_tools()

    with pytest.raises(BaseExceptionGroup):  # the SDK reports the refused connection as an MCP error
        run_coroutine(wrong_key())
    refused = httpx.post(f"{keyed.url}/mcp", headers=bearer("not-a-key"), json={"jsonrpc": "2.0", "id": 1,
                         "method": "tools/list"})
    assert refused.status_code == 401 and refused.json()["message"] == "incorrect API key"


def test_stdio_bridge_forwards_progress_and_cancellation(keyed: LiveServer, run_coroutine: RunCoroutine,
                                                         sprite_file: Path) -> None:
    async def scenario() -> tuple[set[str], CallToolResult, list, CallToolResult]:
        async with Client(bridge_params(keyed, KEYS["alice"])) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result, seen = await generate_with_progress(client)
            return names, result, seen, await edit_a_file(client, sprite_file)

    names, result, seen, edited = run_coroutine(scenario())
    assert names == TOOLS
    summary = check_generation(result, seen)
    check_file_edit(edited)
    assert keyed.runtime.service.get(summary["task_id"]).owner == "key:alice"

    async def cancel_midway(hold: Hold) -> None:
        async with Client(bridge_params(keyed, KEYS["alice"])) as client, anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "generate_image", {"prompt": "a slow dragon", "steps": LONG_STEPS})
            assert await anyio.to_thread.run_sync(hold.reached.wait, 60), "the task must be held after a step"
            group.cancel_scope.cancel()  # notifications/cancelled to the bridge, which gives up its own call

    check_cancelled(keyed, run_coroutine, cancel_midway)


def run_slow(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """run_coroutine with room for a process that imports torch and loads its model on a busy machine."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=300)


def test_stdio_in_its_own_process_without_a_server(tmp_path: Path, server_model: str, sprite_file: Path) -> None:
    env = {**os.environ, "PIXELFORGE_SERVER": "none", "PYTHONPATH": str(Path.cwd())}
    params = StdioServerParameters(command=sys.executable, env=env, args=[
        "-m", "pixelforge.cli", "mcp", "--model", server_model, "--data-dir", str(tmp_path / "data")])

    async def scenario() -> tuple[set[str], CallToolResult, list, CallToolResult]:
        async with Client(params) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result, seen = await generate_with_progress(client)
            return names, result, seen, await edit_a_file(client, sprite_file)

    names, result, seen, edited = run_slow(scenario())
    assert names == TOOLS
    check_generation(result, seen)
    check_file_edit(edited)
