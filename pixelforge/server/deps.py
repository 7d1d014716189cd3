"""What the routes depend on, read from ``app.state`` (built once in ``create_app``).

The server only needs a runtime that owns the settings and the TaskService; what runs the tasks
(in-process workers, or worker processes on Redis in the distributed mode) stays on the other side of the
store and bus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request, status

from pixelforge.config import Settings
from pixelforge.server import task_ids
from pixelforge.server.auth import Identity, KeyRing, resolve_identity
from pixelforge.server.errors import CodedHTTPException
from pixelforge.server.model_roots import ModelRoots
from pixelforge.server.options import ClientOptions
from pixelforge.tasks.model import Task, WorkerHealth, WorkerInfo
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.store import TaskNotFound
from pixelforge.tasks.vocabulary import ErrorCode

# The largest integer SQLite stores: numbers a client passes on to the store (offsets, sequence and
# preview ids) are bounded by it, so a larger one is a 422 instead of an OverflowError.
DB_INT_MAX = 2**63 - 1


class ServerRuntime(Protocol):
    """The part of ``pixelforge.runtime.Runtime`` the server uses; it never sees the engine."""

    settings: Settings
    service: TaskService

    def worker_health(self) -> list[WorkerHealth]: ...

    def worker_infos(self) -> list[WorkerInfo]: ...

    def store_problem(self) -> str | None:
        """What keeps the task store from answering now (distributed mode's Redis), or None."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ServerState:
    """Everything the routes share, kept on ``app.state.pixelforge``."""

    runtime: ServerRuntime
    keys: KeyRing
    roots: ModelRoots
    # Set when the server begins shutting down so that open SSE streams end instead of holding it.
    draining: threading.Event = field(default_factory=threading.Event)
    # A1111 options a client set (sd_model_checkpoint, ...), per identity: one client's model
    # choice must not switch everyone's, as it does in A1111.
    options: ClientOptions = field(default_factory=ClientOptions)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def service(self) -> TaskService:
        return self.runtime.service


def get_state(request: Request) -> ServerState:
    return request.app.state.pixelforge


State = Annotated[ServerState, Depends(get_state)]


def get_service(state: State) -> TaskService:
    return state.service


def get_settings(state: State) -> Settings:
    return state.settings


def get_identity(request: Request, state: State) -> Identity:
    return resolve_identity(request, state.keys)


Service = Annotated[TaskService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Caller = Annotated[Identity, Depends(get_identity)]


def owned_task(service: TaskService, identity: Identity, task_id: str) -> Task:
    """The task ``task_id`` names for the caller, if the caller may see it; another identity's task
    is reported as unknown, so that ids cannot be probed for existence. Act on the returned task's
    ``id`` (the stored one), never on ``task_id``."""
    for candidate in task_ids.candidates(identity.owner, task_id, identity.admin):
        try:
            task = service.get(candidate)
        except TaskNotFound:
            continue
        if identity.can_access(task.owner):
            return task
    raise CodedHTTPException(status.HTTP_404_NOT_FOUND, f"unknown task id: {task_id}", ErrorCode.UNKNOWN_TASK)
