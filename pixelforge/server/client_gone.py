"""Blocking routes hold the request open while their task runs (A1111's txt2img / img2img, OpenAI's
images). A client that goes away while it waits — LibreChat aborting the request when its user cancels,
a script stopped with Ctrl+C — no longer wants the images, so its task is interrupted at once, inside
the step it is in, instead of running to the end for nobody. Images it finished before stay in the
history, as after any stop."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from pixelforge.tasks.model import Task
from pixelforge.tasks.service import TaskService

# The stop reason a task stopped this way records (its stop_reason, and the 'interrupted' event's reason).
CLIENT_GONE = "client-disconnected"


async def _disconnected(request: Request) -> None:
    """Returns when the client closes the connection. The route has read its body already, so the
    next ASGI message is the disconnect (a request body never arrives twice)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def await_end_or_stop(request: Request, service: TaskService, task_id: str) -> Task:
    """The task once it has ended; interrupted (reason CLIENT_GONE) as soon as the client disconnects."""
    ended = asyncio.ensure_future(service.await_end(task_id))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({ended, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not ended.done():
            await asyncio.to_thread(service.interrupt, task_id, reason=CLIENT_GONE)
        return await ended
    finally:
        gone.cancel()
        ended.cancel()
        await asyncio.gather(gone, ended, return_exceptions=True)
