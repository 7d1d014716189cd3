"""The FastAPI application: routes, middleware and the runtime's lifecycle.

``create_app(runtime)`` builds the app around a runtime that owns the store, the bus and the
workers; the lifespan starts the runtime and stops it (which marks a running task interrupted).
``serve`` runs it under uvicorn and ends open event streams first, so that shutdown never waits
on a browser that keeps watching.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

import pixelforge
from pixelforge.server import (
    api_queue,
    api_v1,
    events,
    mcp_server,
    openai_images,
    sdapi,
    sdapi_catalog,
    sdapi_img2img,
)
from pixelforge.server.auth import ClientIdMiddleware, KeyRing
from pixelforge.server.deps import ServerRuntime, ServerState
from pixelforge.server.docs import install_docs
from pixelforge.server.errors import BodyLimitsMiddleware, CatchAllMiddleware, install_handlers
from pixelforge.server.header_timeout import header_timeout_protocol
from pixelforge.server.model_roots import ModelRoots
from pixelforge.server.notices import Notifier
from pixelforge.server.origin_guard import OriginGuardMiddleware, allowed_hosts
from pixelforge.server.unicode import valid_text_body

DESCRIPTION = """\
Pixel-art generation you can watch live and stop at any moment.

* **Native API** (`/api/v1`): tasks with handles, Server-Sent Events with resumable per-task ids,
  interrupt (optionally keeping the partial image), skip, cancel, images, live previews, the queue.
* **AUTOMATIC1111-compatible API** (`/sdapi/v1`, `/internal`) for existing clients.
* **OpenAI Images API** (`/v1/models`, `/v1/images/generations`, `/v1/images/edits`), in OpenAI's shapes.
* **MCP server** (Streamable HTTP at `/mcp`): tools for LLM hosts, with progress and cancellation.

Every request has an identity (an API key, or a client id when no keys are configured); nobody
sees or stops another identity's tasks except an admin.
"""

# Seconds uvicorn waits for open connections when stopping; SSE streams end by themselves sooner.
GRACEFUL_SHUTDOWN_S = 5


def _web_dir() -> Path | None:
    """The static web UI, when it is installed (it is served at ``/``)."""
    web = Path(str(resources.files("pixelforge"))) / "web"
    return web if (web / "index.html").is_file() else None


def create_app(runtime: ServerRuntime) -> FastAPI:
    settings = runtime.settings
    state = ServerState(runtime=runtime, keys=KeyRing.from_settings(settings), roots=ModelRoots(settings))
    mcp = mcp_server.http_endpoint(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(runtime.start)
        notifier = Notifier(runtime.service, settings)
        notifier.start()
        try:
            async with mcp.running():
                yield
        finally:
            state.draining.set()
            notifier.stop()
            await asyncio.to_thread(runtime.stop)

    app = FastAPI(
        title="pixelforge",
        version=pixelforge.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(valid_text_body)],
        docs_url=None,  # install_docs serves /docs from local files, not a CDN
        redoc_url=None,  # ReDoc has no offline package; /docs and /openapi.json cover it
        openapi_tags=[
            {"name": "tasks", "description": "Submit, list and follow generation tasks."},
            {"name": "control", "description": "Stop tasks: interrupt, skip, cancel."},
            {"name": "images", "description": "Finished images and live previews."},
            {"name": "queue", "description": "The shared queue."},
            {"name": "server", "description": "Health and models."},
            {"name": "automatic1111", "description": "The AUTOMATIC1111 web UI API, for existing clients."},
        ],
    )
    app.state.pixelforge = state
    install_handlers(app)
    app.add_exception_handler(sdapi.A1111Invalid, sdapi.on_a1111_invalid)
    app.include_router(events.router)
    app.include_router(api_v1.router)
    app.include_router(api_queue.router)
    app.include_router(sdapi.router)
    app.include_router(sdapi_img2img.router)
    app.include_router(sdapi_catalog.router)
    install_docs(app)
    app.mount("/v1", openai_images.create_openai_app(state))
    app.router.routes.append(mcp.route)
    web = _web_dir()
    if web is not None:
        app.mount("/", StaticFiles(directory=web, html=True), name="web")

    # Added innermost first: CORS and the client cookie see every response, the body limits run
    # before anything reads a body, foreign hosts and cross-site forms are refused before that, and
    # the catch-all wraps them all.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Starlette answers '*' with credentials by echoing any origin: '*' goes without them.
            allow_credentials="*" not in settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "X-Preview-Id", "X-Task-Id"],
        )
    if not state.keys.enabled:
        app.add_middleware(ClientIdMiddleware)
    app.add_middleware(
        BodyLimitsMiddleware,
        max_bytes=settings.max_body_bytes,
        image_max_bytes=settings.max_image_body_bytes,
        timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(OriginGuardMiddleware, hosts=allowed_hosts(settings), trusted_origins=settings.cors_origins)
    app.add_middleware(CatchAllMiddleware)
    return app


class PixelforgeServer(uvicorn.Server):
    """uvicorn waits for open responses before the lifespan ends; end the SSE streams first."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self._state = state

    def handle_exit(self, sig: int, frame: object) -> None:
        self._state.draining.set()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stops as a signal does, for a process that runs several servers (tests, benchmarks). Not through
        handle_exit: sse_starlette patches it to set one exit flag for the whole process, after which every SSE
        response of every other server in the process (MCP's answers) ends before its first event."""
        self._state.draining.set()
        self.should_exit = True


def server_for(app: FastAPI, host: str, port: int, log_level: str = "info") -> PixelforgeServer:
    settings = app.state.pixelforge.settings
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        http=header_timeout_protocol(settings.header_timeout_s),
    )
    return PixelforgeServer(config, app.state.pixelforge)


def serve(
    target: FastAPI | ServerRuntime, host: str | None = None, port: int | None = None, sock: socket.socket | None = None
) -> None:
    """Run the server until Ctrl+C (what ``pixelforge serve`` calls), given the app from
    ``create_app`` or the runtime to build it around; host and port default to the settings. ``sock``: a socket
    already bound to them (uvicorn would bind only after the start-up, too late to say the port is taken)."""
    app = target if isinstance(target, FastAPI) else create_app(target)
    settings = app.state.pixelforge.settings
    # What the imports made (torch, diffusers, the web stack: ~500k objects) lives as long as the process. Out of
    # the collector's sight, the full collection a worker runs after each stop walks only what came since: a few
    # ms instead of ~1 s holding the GIL, which held every response of this process — the 'interrupted' event of
    # the very task that stopped among them (benchmarks/client_stop_latency.py).
    gc.freeze()
    server_for(app, host or settings.host, port or settings.port).run(sockets=[sock] if sock is not None else None)
