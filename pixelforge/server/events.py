"""Server-Sent Events for one task: the stored events after the client's last one, then live ones.

Each SSE message carries ``id: <seq>`` (the task's own sequence number), ``event: <type>`` and the
event's API view (``EventOut``: URLs instead of data-directory paths, the finished task with the
terminal event) as JSON ``data``. A client that reconnects sends ``Last-Event-ID`` (browsers do it
by themselves) or ``?after=`` and gets exactly the events it missed; the stream ends after the
terminal event, and a reconnect after that gets 204, which tells EventSource to stop retrying.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from pixelforge.server.auth import Identity
from pixelforge.server.deps import DB_INT_MAX, Caller, Service, State, owned_task
from pixelforge.server.schemas import EventOut
from pixelforge.tasks.events import TaskEvent
from pixelforge.tasks.service import TaskService

router = APIRouter(prefix="/api/v1", tags=["tasks"])

# A comment line this often keeps proxies and browsers from closing an idle stream.
KEEPALIVE_S = 15.0
# How often a silent stream checks whether the server is shutting down.
POLL_S = 1.0
# EventSource waits this long before reconnecting after a dropped connection.
RETRY_MS = 2000


def format_event(event: EventOut) -> bytes:
    return f"id: {event.seq}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


async def _view(service: TaskService, event: TaskEvent, shown: str, viewer: str) -> EventOut:
    # The terminal event carries the finished task, so a client need not fetch it again.
    finished = await asyncio.to_thread(service.get, event.task_id) if event.type.is_terminal else None
    return EventOut.of(event, finished, task_id=shown, viewer=viewer)


async def _stream(
    state: State, service: TaskService, task_id: str, shown: str, viewer: str, after: int
) -> AsyncIterator[bytes]:
    """The events of task ``task_id`` (the stored id) after ``after``, under the id the client used,
    as ``viewer`` (the caller's owner string) sees them."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    last_sent = time.monotonic()
    async for event in service.aevents(task_id, after_seq=after, heartbeat_s=POLL_S):
        # Checked on every event too: a running task sends them faster than POLL_S. The client
        # resumes with Last-Event-ID once the server is back; nothing is lost.
        if state.draining.is_set():
            return
        if event is not None:
            yield format_event(await _view(service, event, shown, viewer))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= KEEPALIVE_S:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is None:
        return after or 0
    if not re.fullmatch(r"[0-9]{1,18}", last_event_id.strip()):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Last-Event-ID must be a non-negative event sequence number, got {last_event_id!r}",
        )
    return int(last_event_id.strip())


def _resume_from(service: TaskService, caller: Identity, task_id: str, resume: int) -> tuple[str, int | None]:
    """The stored id of the task, and where the stream of a client that has seen its events up to
    ``resume`` starts (None when it has nothing more to get)."""
    task = owned_task(service, caller, task_id)
    if resume == 0:
        return task.id, 0
    seen = service.store.events_since(task.id, resume - 1)
    if seen:
        # The client's last event exists: the story is over if it was the terminal one. (A task turns
        # terminal in the store just before its terminal event is appended, so "terminal and nothing
        # newer" alone would not prove the client has it.)
        return task.id, None if seen[0].type.is_terminal else resume
    # The client claims an event that never existed. Nothing follows it for a finished task; a live
    # one resumes from its real last event, or the filter would hold back every event to come.
    if task.state.is_terminal:
        return task.id, None
    stored = service.store.events_since(task.id, 0)
    return task.id, stored[-1].seq if stored else 0


@router.get(
    "/tasks/{task_id}/events",
    summary="Follow a task's events (SSE)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "queued, started, progress, preview, image, "
              "then one terminal event (completed, interrupted, failed or cancelled)."},
        204: {"description": "The client has already seen the terminal event; nothing more will come."},
        404: {"description": "No such task, or not yours."},
    },
)
async def task_events(
    task_id: Annotated[str, Path(description="Task id.")],
    state: State,
    service: Service,
    caller: Caller,
    after: Annotated[
        int | None, Query(ge=0, le=DB_INT_MAX, description="Resume after this sequence number (as Last-Event-ID).")
    ] = None,
    last_event_id: Annotated[
        str | None, Header(description="Sequence number of the last event received; takes precedence over after.")
    ] = None,
) -> Response:
    # The store is synchronous: ask it off the event loop, which serves every open stream.
    stored, start = await asyncio.to_thread(
        _resume_from, service, caller, task_id, _resume_point(last_event_id, after)
    )
    if start is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return StreamingResponse(
        _stream(state, service, stored, task_id, caller.owner, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
