"""``pixelforge mcp``: the MCP server on stdio, for MCP hosts that launch a command (Claude Desktop, ...).

With a running ``pixelforge serve`` — found as ``generate`` finds one: ``--server URL``, else
``$PIXELFORGE_SERVER``, else one on this machine — it is a thin bridge to that server's ``/mcp``: the
host's tool calls go there with their progress coming back, and a call the host cancels (or the host
closing stdin) is given up there too, which stops its task. The identity is the CLI's
(``$PIXELFORGE_API_KEY`` when the server has keys). With no server, the same tools run in this process
on a runtime of its own, as ``generate`` does. Either way ``edit_image`` also takes the path of a file on
this machine (the bridge sends its bytes). stdout carries the protocol only; logs go to stderr.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

from pixelforge.cli.client import CLIENT_ID, Server, ServerError, ServerUnreachable, find_server
from pixelforge.cli.common import EXIT_FAILED, EXIT_OK, runtime_for, settings_from

# The owner of the tasks an in-process MCP server runs (as an in-process `generate`'s).
LOCAL_OWNER = "local"


def add_mcp(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    mcp = commands.add_parser(
        "mcp", help="the MCP server on stdio (for Claude Desktop and other MCP hosts)",
        description="Serve pixelforge's MCP tools on stdin/stdout: through a running server when there is one "
        "(its /mcp), else in this process.")
    mcp.add_argument("--server", metavar="URL", help="the pixelforge server to use (default: $PIXELFORGE_SERVER, "
                     "else one running on this machine, else none: the tools run in this process)")
    mcp.add_argument("--model", help="in this process: the default model (default: sprite, or $PIXELFORGE_MODEL)")
    mcp.add_argument("--data-dir", type=Path, help="in this process: tasks database and images (default: ./data)")
    mcp.set_defaults(handler=cmd_mcp)
    return mcp


def cmd_mcp(args: argparse.Namespace) -> int:
    import anyio

    try:
        server = find_server(args.server)
    except (ServerError, ServerUnreachable) as exc:
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if server is not None:
        anyio.run(bridge, server)
        return EXIT_OK
    return _in_process(args)


def _headers(server: Server) -> dict[str, str]:
    headers = {"X-Client-Id": CLIENT_ID}
    if server.api_key:
        headers["Authorization"] = f"Bearer {server.api_key}"
    return headers


async def bridge(server: Server) -> None:
    """stdio <-> the server's /mcp: the tools it lists, each call forwarded with its progress. A call the host
    cancels is cancelled here, which closes its request to the server: the server stops the task."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.lowlevel import Server as LowLevelServer
    from mcp.server.stdio import stdio_server
    from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult, PaginatedRequestParams

    from pixelforge import __version__
    from pixelforge.server.mcp_server import INSTRUCTIONS, local_file

    # No read timeout: a generation may wait in the queue for as long as it takes; the host decides when to stop.
    async with httpx2.AsyncClient(headers=_headers(server), timeout=httpx2.Timeout(30, read=None)) as http, \
            Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as remote:

        async def list_tools(_: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
            return await remote.list_tools(cursor=params.cursor if params else None)

        async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                await ctx.session.report_progress(progress, total, message)

            arguments = dict(params.arguments or {})
            if params.name == "edit_image":  # a file of this machine goes to the server as its bytes
                for name in ("image", "mask"):
                    found = local_file(arguments[name]) if isinstance(arguments.get(name), str) else None
                    if found is not None:
                        arguments[name] = base64.b64encode(found).decode()
            return await remote.call_tool(params.name, arguments, progress_callback=on_progress)

        local = LowLevelServer("pixelforge", version=__version__, instructions=INSTRUCTIONS,
                               on_list_tools=list_tools, on_call_tool=call_tool)
        async with stdio_server() as (read, write):
            await local.run(read, write, local.create_initialization_options())


def _in_process(args: argparse.Namespace) -> int:
    import gc

    import anyio

    from pixelforge.server.auth import Identity, KeyRing
    from pixelforge.server.deps import ServerState
    from pixelforge.server.mcp_server import build_server
    from pixelforge.server.model_roots import ModelRoots

    settings = settings_from(args)
    runtime = runtime_for(settings)
    gc.freeze()  # as `pixelforge serve` does: a stop's full collection then walks only what came after start-up
    runtime.start()
    try:
        state = ServerState(runtime=runtime, keys=KeyRing(users={}, admins={}), roots=ModelRoots(settings))
        server = build_server(state, lambda _: Identity(owner=LOCAL_OWNER), local_files=True)
        anyio.run(server.run_stdio_async)
    finally:
        runtime.stop()
    return EXIT_OK
