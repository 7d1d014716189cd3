"""The TaskStore protocol: the one durable place where tasks, control requests and events live.

The server writes tasks and stop requests here; workers claim tasks and write their progress and
results here. Neither side ever calls the other (DESIGN.md). Implementations: SQLite (one host,
``sqlite_store.py``) and Redis (distributed mode).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    StopRequest,
    Task,
    TaskEvent,
    TaskProgress,
    TaskState,
    TaskStats,
)


class TaskStoreError(Exception):
    """Base class for store errors that carry a message fit to show a user."""


class TaskNotFound(TaskStoreError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"unknown task id: {task_id}")
        self.task_id = task_id


class TaskExists(TaskStoreError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"a task with id {task_id} already exists")
        self.task_id = task_id


class StoreFull(TaskStoreError):
    """The disk (or the database's size limit) is full: the write was rolled back, nothing changed."""

    def __init__(self) -> None:
        super().__init__("the server's disk is full, so nothing was stored; try again once space is freed")


class TaskStore(Protocol):
    # --- tasks -----------------------------------------------------------------------------
    def create(self, task: Task) -> Task: ...

    def get(self, task_id: str) -> Task:
        """The task with its queue position filled in; raises TaskNotFound."""
        ...

    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        """Newest first; ``owner=None`` lists everyone's."""
        ...

    def count(self, owner: str | None = None, states: Iterable[TaskState] | None = None) -> int: ...

    def queued_ids(self) -> list[str]:
        """Queued task ids in the order they will run."""
        ...

    def claim_next(self, worker_id: str) -> Task | None:
        """Atomically move the oldest queued task to running and return it (None when paused/empty)."""
        ...

    # --- written by the worker while a task runs -------------------------------------------
    def set_info(self, task_id: str, info: dict[str, Any]) -> None: ...

    def add_image(self, task_id: str, image: ImageRef) -> None: ...

    def finish(
        self,
        task_id: str,
        state: TaskState,
        *,
        progress: TaskProgress | None = None,
        stats: TaskStats | None = None,
        error: str | None = None,
        stop_reason: str | None = None,
    ) -> Task: ...

    # --- control ---------------------------------------------------------------------------
    def cancel_if_queued(self, task_id: str) -> bool:
        """queued -> cancelled atomically; False when the task is no longer queued."""
        ...

    def record_stop_request(self, task_id: str, request: StopRequest) -> Task:
        """Persist a stop request so that a worker that claims the task late still honours it."""
        ...

    def clear_skip(self, task_id: str) -> None:
        """A skip applies to one job; the worker clears it once the job has ended."""
        ...

    # --- events ----------------------------------------------------------------------------
    def append_event(
        self, task_id: str, type: EventType, data: dict[str, Any], progress: TaskProgress | None = None
    ) -> TaskEvent:
        """Give the event the task's next sequence number and keep it for replay; ``progress`` becomes the
        task's current progress in the same write (one transaction per step on the hot path)."""
        ...

    def events_since(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]: ...

    # --- previews (small encoded images, latest few per task) ------------------------------
    def put_preview(self, task_id: str, preview_id: int, data: bytes, media_type: str) -> None: ...

    def get_preview(self, task_id: str, preview_id: int | None = None) -> tuple[int, bytes, str] | None:
        """(id, bytes, media type) of the given preview, or of the latest when ``preview_id`` is None."""
        ...

    # --- housekeeping ----------------------------------------------------------------------
    def recover(self) -> list[str]:
        """After a crash: tasks left running become interrupted. Returns their ids."""
        ...

    def prune(self, keep: int) -> list[Task]:
        """Drop the oldest finished tasks beyond ``keep``; returns them so their files can go too."""
        ...

    def set_paused(self, paused: bool) -> None: ...

    def is_paused(self) -> bool: ...

    def close(self) -> None: ...
