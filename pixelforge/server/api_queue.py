"""The native API's queue verbs: cancel many, move, retry (and, with the task routes, stop after the current image).

Every route acts only on what the caller may see: its own tasks, or an admin's whole queue when asked for; another
identity's task is an unknown id (404), as everywhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.server.api_v1 import NOT_YOURS, SUBMIT_RESPONSES, TaskId
from pixelforge.server.deps import Caller, Service, owned_task
from pixelforge.server.errors import CodedHTTPException
from pixelforge.server.schemas import Message, TaskOut
from pixelforge.server.task_ids import owner_shown_id
from pixelforge.tasks.queue_order import MoveTo
from pixelforge.tasks.service import NotRetryable
from pixelforge.tasks.store import TaskNotQueued
from pixelforge.tasks.vocabulary import ErrorCode

router = APIRouter(prefix="/api/v1")


class QueueCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["queued", "all"] = Field(
        default="queued", description="'queued': every queued task (a running one goes on: 'all but the current'); "
        "'all': the running ones are interrupted too.")
    everyone: bool = Field(default=False, description="Admins: every identity's tasks, not only your own.")


class QueueCancelled(BaseModel):
    ended: list[str] = Field(description="Ids of the tasks this ended: the queued ones cancelled (in queue order), "
                             "then the running ones interrupted.")


@router.post("/queue/cancel", tags=["queue"], summary="Cancel your queue (and what runs)",
             responses={403: {"model": Message, "description": "'everyone' without an admin key."}})
def cancel_queue(
    service: Service,
    caller: Caller,
    body: Annotated[QueueCancel | None, Body(description="Optional; scope defaults to 'queued'.")] = None,
) -> QueueCancelled:
    body = body or QueueCancel()
    if body.everyone and not caller.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins may cancel every identity's tasks")
    ended = service.cancel_queue(None if body.everyone else caller.owner, running_too=body.scope == "all")
    # An admin's view of everyone's tasks uses their stored ids, as GET /tasks?scope=all does.
    return QueueCancelled(ended=ended if body.everyone else [owner_shown_id(task_id) for task_id in ended])


class QueueMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: MoveTo = Field(description="'up' / 'down': past your previous / next queued task; 'front' / 'back': before "
                       "your first / after your last. Only your own tasks change places. An admin's 'front' is 'run "
                       "next': before every queued task (under the fair policy its owner also takes the next turn).")


@router.post("/tasks/{task_id}/move", tags=["queue"], summary="Move a queued task in the queue",
             responses={**NOT_YOURS, 409: {"model": Message, "description": "The task is not queued (any more)."}})
def move_task(
    task_id: TaskId,
    service: Service,
    caller: Caller,
    body: Annotated[QueueMove | None, Body(description="Where to (required): read after the task is found, so "
                                           "that another identity's task answers 404 whatever the body.")] = None,
) -> TaskOut:
    """The task's view with its new place (``position``, ``starts_in_s``); its watchers and every other queued
    task's are told their places by ``queued`` events, as for any queue move."""
    task = owned_task(service, caller, task_id)
    if body is None:
        # 422 as a number: Starlette renamed its constant (…_ENTITY → …_CONTENT), and fastapi>=0.115 allows both.
        raise HTTPException(422, detail='say where to move it: {"to": "front" | "up" | "down" | "back"}')
    try:
        moved = service.move(task.id, body.to, run_next=caller.admin and body.to == "front")
    except TaskNotQueued as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"task {task_id} is {exc.state.value}, not queued: only "
                            "a queued task can be moved") from exc
    return TaskOut.of(moved, caller.owner)


@router.post("/tasks/{task_id}/retry", status_code=status.HTTP_201_CREATED, tags=["control"],
             summary="Run a failed, interrupted or cancelled task again",
             responses={**NOT_YOURS, **SUBMIT_RESPONSES,
                        409: {"model": Message, "description": "The task is queued, running or completed."}})
def retry_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    """A new task with the same parameters (and input images), ``retried_from`` naming this one; a new seed when
    this one's was random (-1). It belongs to the task's owner and counts against its queue limits."""
    task = owned_task(service, caller, task_id)
    try:
        retried = service.retry(task.id)
    except NotRetryable as exc:
        raise CodedHTTPException(status.HTTP_409_CONFLICT, f"task {task_id} is {task.state.value}: only a failed, "
                                 "interrupted or cancelled task can be retried", ErrorCode.NOT_RETRYABLE) from exc
    return TaskOut.of(retried, caller.owner)
