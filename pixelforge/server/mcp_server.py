"""The MCP server (Model Context Protocol, the official ``mcp`` SDK): pixelforge's tools for LLM hosts.

Tools: ``generate_image``, ``edit_image``, ``get_task``, ``cancel_task``, ``list_models``. Every generation
is an ordinary task of the caller's on the shared queue (the web UI shows it); the call waits for its end
and answers with the images as MCP image content (PNG), the task id and each image's infotext. When the
request carries a progress token, a progress notification follows every step ("step 7/20, image 1/2,
ETA 3 s"; its value only ever grows). A call that is given up — ``notifications/cancelled``, the
response stream closing, the session ending — interrupts its task inside the step it is in.

Served two ways with the same tools: Streamable HTTP at ``/mcp`` of ``pixelforge serve`` (stateless:
each request carries its own identity, an API key as ``Authorization: Bearer`` as everywhere else), and
on stdio by ``pixelforge mcp`` (``pixelforge.cli.mcp``). Like the rest of the server it reaches the
engine only through the task service and its event bus.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import HTTPException
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import pixelforge
from pixelforge.backends.presets import list_models
from pixelforge.server.auth import Identity, resolve_identity
from pixelforge.server.deps import ServerState, owned_task
from pixelforge.server.errors import error_response
from pixelforge.server.images import as_asked_kind, data_file, image_path
from pixelforge.server.task_ids import shown_id
from pixelforge.server.uploads import decode_base64
from pixelforge.tasks.events import ProgressPayload
from pixelforge.tasks.infotext import task_infotexts
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import EventType, Img2ImgOptions, Task, TaskParams, TaskProgress, TaskState
from pixelforge.tasks.service import InvalidTask
from pixelforge.tasks.store import QueueFull
from pixelforge.userpath import expand_user

# The stop reason of a task whose MCP call was cancelled or whose stream closed.
MCP_CANCELLED = "mcp-cancelled"
# Fields as a tool names them, for errors.
TOOL_NAMES = {"batch_count": "n", "init_image": "image", "img2img": "strength"}
INSTRUCTIONS = (
    "pixelforge generates pixel art. generate_image draws from a prompt; edit_image redraws an image (base64 PNG), "
    "only the white part of a mask when one is given. Each call is a task on a shared queue: cancelling the "
    "call stops it. get_task and cancel_task act on your own tasks by id; list_models names the models."
)

IdentityOf = Callable[[Context], Identity]
# Longer than any path a file system takes: such a value is base64, not a file name.
MAX_PATH_CHARS = 4096


def _problems(exc: InvalidTask) -> str:
    return "; ".join(f"{TOOL_NAMES.get(p.field, p.field)}: {p.message}" for p in exc.problems)


@dataclass(frozen=True)
class Tools:
    """The tools over one server state; ``identity_of`` says whom a call acts for."""

    state: ServerState
    identity_of: IdentityOf

    def params(self, **fields: Any) -> TaskParams:
        try:
            params = TaskParams(**{key: value for key, value in fields.items() if value is not None})
            return self.state.roots.params(params)
        except ValidationError as exc:
            raise ToolError("; ".join(f"{TOOL_NAMES.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                                      for e in exc.errors())) from None
        except InvalidTask as exc:
            raise ToolError(_problems(exc)) from None

    async def run(self, ctx: Context, params: TaskParams, upload: ImageUpload | None = None) -> CallToolResult:
        """Submit, follow with progress notifications, answer with the images; a cancelled call stops the task."""
        identity = self.identity_of(ctx)
        service = self.state.service
        try:
            task = await anyio.to_thread.run_sync(partial(service.submit, params, owner=identity.owner,
                                                          images=upload))
        except InvalidTask as exc:
            raise ToolError(_problems(exc)) from None
        except QueueFull as exc:
            raise ToolError(f"{exc} (try again in {exc.retry_after_s} s)") from None
        try:
            await self._follow(ctx, task.id)
        except BaseException:  # cancelled, the stream or session closed: nobody waits for the images any more
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(partial(service.interrupt, task.id, reason=MCP_CANCELLED))
            raise
        return await anyio.to_thread.run_sync(self._result, await anyio.to_thread.run_sync(service.get, task.id),
                                              identity)

    async def _follow(self, ctx: Context, task_id: str) -> None:
        told = 0.0
        async for event in self.state.service.aevents(task_id, places=False):
            if event is not None and event.type is EventType.COMPLETED:
                await ctx.report_progress(100, 100, "done")  # a task's progress reaches 1.0 only when it completed
            if event is None or not isinstance(event.data, ProgressPayload):
                continue
            progress = event.data
            if progress.progress > told:  # MCP progress must grow with every notification
                told = progress.progress
                await ctx.report_progress(round(told * 100, 3), 100, progress_message(progress))

    def _result(self, task: Task, identity: Identity) -> CallToolResult:
        """The finished images as PNG image content (at the size asked for), then one text block with the task."""
        content: list[ContentBlock] = []
        data_dir = self.state.settings.data_dir
        for ref in task.images:
            kind = as_asked_kind(task, ref)
            path = data_file(data_dir, ref.files[kind], f"{kind} image") if kind else image_path(data_dir, ref)
            content.append(ImageContent(data=base64.b64encode(path.read_bytes()).decode(), mime_type="image/png"))
        summary = task_summary(task, identity)
        content.append(TextContent(text=json.dumps(summary, ensure_ascii=False)))
        return CallToolResult(content=content, structured_content=summary, is_error=task.state is TaskState.FAILED)

    def owned(self, ctx: Context, task_id: str) -> tuple[Task, Identity]:
        identity = self.identity_of(ctx)
        try:
            return owned_task(self.state.service, identity, task_id), identity
        except HTTPException as exc:
            raise ToolError(str(exc.detail)) from None


def local_file(value: str) -> bytes | None:
    """The bytes of the file ``value`` names on this machine (a path, ``~`` expanded, or a ``file://`` URI), else
    None. Only where the tools run beside the host, as its user (``pixelforge mcp``): never for ``/mcp`` over
    HTTP, whose callers must not read the server's files."""
    spec = value.removeprefix("file://")
    if len(spec) > MAX_PATH_CHARS or "\n" in spec:  # base64 of any image is longer, or wrapped
        return None
    path = expand_user(spec)
    try:
        return path.read_bytes() if path.is_file() else None
    except (OSError, ValueError):  # unreadable, or a name the file system refuses
        return None


def progress_message(progress: TaskProgress) -> str:
    """'step 7/20, image 1/2, ETA 3 s' (the image counted while its job runs; ETA once it is known)."""
    parts = [f"step {progress.step}/{progress.steps}",
             f"image {min(progress.job_no + 1, progress.job_count)}/{progress.job_count}"]
    if progress.eta_s is not None:
        parts.append(f"ETA {progress.eta_s:.0f} s")
    return ", ".join(parts)


def task_summary(task: Task, identity: Identity) -> dict[str, Any]:
    return {
        "task_id": shown_id(task, identity.owner),
        "state": task.state.value,
        "stop_reason": task.stop_reason,
        "error": task.error,
        "progress": task.progress.progress,
        "textinfo": task.progress.textinfo,
        "images": len(task.images),
        "infotexts": task_infotexts(task) if task.images else [],
    }


Prompt = Annotated[str, Field(description="What to draw.", min_length=1)]
Negative = Annotated[str, Field(description="What to avoid.")]
Side = Annotated[int | None, Field(description="Pixels, a multiple of 16; the model's own size if left out.")]
Steps = Annotated[int | None, Field(description="Denoising steps; the model's default if left out.", ge=1)]
Seed = Annotated[int, Field(description="-1 picks a random seed.", ge=-1)]
Count = Annotated[int, Field(description="How many images, made one after another.", ge=1, le=16)]
Model = Annotated[str | None, Field(description="A model list_models names; the server's default if left out.")]
TaskId = Annotated[str, Field(description="The task id a generate_image or edit_image result gave.")]
IMAGE_ARGUMENT = ("{what}: base64 PNG or a data: URL; through `pixelforge mcp` (which runs beside you) also the path "
                  "of a file on your machine.")


def build_server(state: ServerState, identity_of: IdentityOf, local_files: bool = False) -> MCPServer:
    """The tools over ``state``; with ``local_files`` (stdio, beside the host) ``edit_image`` also reads file paths."""
    tools = Tools(state, identity_of)

    def image_bytes(value: str, field: str) -> bytes:
        found = local_file(value) if local_files else None
        return found if found is not None else decode_base64(value, field)

    # WARNING: the SDK configures the root logger at this level when nothing else has (a library's INFO lines
    # would otherwise fill a server's log, and a stdio server's stderr).
    server = MCPServer("pixelforge", version=pixelforge.__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(description="Generate pixel art from a prompt. Returns the PNGs, the task id and each image's "
                 "infotext. Progress is reported every step; cancelling the call stops the task.")
    async def generate_image(prompt: Prompt, ctx: Context, negative_prompt: Negative = "", width: Side = None,
                             height: Side = None, steps: Steps = None, seed: Seed = -1, n: Count = 1,
                             model: Model = None) -> CallToolResult:
        params = tools.params(prompt=prompt, negative_prompt=negative_prompt, width=width, height=height,
                               steps=steps, seed=seed, batch_count=n, model=model)
        return await tools.run(ctx, params)

    @server.tool(description="Redraw an image (img2img), or only the white part of a mask (inpainting). Returns "
                 "the PNGs, the task id and each image's infotext; cancelling the call stops the task.")
    async def edit_image(
        image: Annotated[str, Field(description=IMAGE_ARGUMENT.format(what="The image to start from"))],
        prompt: Prompt,
        ctx: Context,
        mask: Annotated[str | None, Field(description=IMAGE_ARGUMENT.format(
            what="Optional mask of the image's size (white is repainted, black kept)"))] = None,
        strength: Annotated[float, Field(description="How much is redrawn: 0 keeps the image, 1 ignores it.",
                                         ge=0, le=1)] = 0.75,
        negative_prompt: Negative = "", steps: Steps = None, seed: Seed = -1, n: Count = 1, model: Model = None,
    ) -> CallToolResult:
        try:
            upload = ImageUpload(init_image=image_bytes(image, "image"),
                                 mask=image_bytes(mask, "mask") if mask is not None else None)
        except InvalidTask as exc:
            raise ToolError(_problems(exc)) from None
        params = tools.params(prompt=prompt, negative_prompt=negative_prompt, steps=steps, seed=seed, batch_count=n,
                               model=model, img2img=Img2ImgOptions(denoising_strength=strength))
        return await tools.run(ctx, params, upload)

    @server.tool(description="One of your tasks: its state, progress and, once it has them, its images.")
    async def get_task(task_id: TaskId, ctx: Context) -> CallToolResult:
        task, identity = await anyio.to_thread.run_sync(tools.owned, ctx, task_id)
        return await anyio.to_thread.run_sync(tools._result, task, identity)

    @server.tool(description="Stop one of your tasks: cancel it while queued, interrupt it while running "
                 "(images it finished stay).")
    async def cancel_task(task_id: TaskId, ctx: Context) -> dict[str, Any]:
        task, identity = await anyio.to_thread.run_sync(tools.owned, ctx, task_id)
        stopped = await anyio.to_thread.run_sync(state.service.cancel, task.id)
        return task_summary(stopped, identity)

    @server.tool(name="list_models", description="The models this server knows: name (to pass as model), title, "
                 "whether its weights are here, and which one is the default.")
    async def list_models_tool(ctx: Context) -> list[dict[str, Any]]:
        return [entry.model_dump(include={"name", "title", "description", "available", "default"})
                for entry in list_models(state.settings)]
    return server


def http_identity(state: ServerState) -> IdentityOf:
    """The identity of a call over HTTP: resolved from its own request's headers, as on every route."""

    def identity_of(ctx: Context) -> Identity:
        request = ctx.request_context.request
        if not isinstance(request, Request):
            raise ToolError("no HTTP request: identity unknown")
        try:
            return resolve_identity(request, state.keys)
        except HTTPException as exc:
            raise ToolError(str(exc.detail)) from None

    return identity_of


class _Authenticated:
    """Refuses a request whose credentials fail (401, as on every route) before the MCP transport sees it."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            resolve_identity(Request(scope), self.state.keys)
        except HTTPException as exc:
            await error_response(exc.status_code, str(exc.detail), exc.headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class HttpEndpoint:
    """``/mcp`` of the FastAPI app: the route to add, and the session manager to run in its lifespan."""

    route: Route
    running: Callable[[], Any]


def http_endpoint(state: ServerState) -> HttpEndpoint:
    server = build_server(state, http_identity(state))
    settings = state.settings
    # Stateless: every POST is served on its own, so closing its response stream ends the call (and its task),
    # and each call's identity is that of its own request. DNS-rebinding protection when bound to loopback.
    app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=settings.host,
                                     max_request_body_size=settings.max_image_body_bytes)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return HttpEndpoint(route=Route("/mcp", endpoint=_Authenticated(app, state)), running=running)
