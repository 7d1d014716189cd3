"""The TaskStore protocol: the one durable place where tasks, control requests and events live.

The server writes tasks and stop requests here; workers claim tasks and write their progress and
results here. Neither side ever calls the other. Two implementations, adapters outside the domain: SQLite
(``pixelforge/stores/sqlite.py``, one host) and Redis (``pixelforge/stores/redis/``, the distributed mode);
``tests/tasks/test_store_contract.py`` runs the same contract on both, and says what any other must do.

Every write that changes what a watcher sees appends the matching event in the same transaction
(a created task and its ``queued`` event, a result and its ``image`` event, a terminal state and its
terminal event), so that no crash can leave a stored state whose event stream never tells it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pixelforge.tasks.events import EventData, TaskEvent
from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    StopRequest,
    Task,
    TaskEnd,
    TaskLimits,
    TaskProgress,
    TaskState,
)
from pixelforge.tasks.queue_order import MoveTo
from pixelforge.tasks.vocabulary import ErrorCode


class TaskStoreError(Exception):
    """Base class for store errors that carry a message fit to show a user."""


class StoreUnreadable(TaskStoreError):
    """The store cannot be opened at all (a database that is corrupt, not a database, or read-only)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"cannot open the task store {where}: {reason}")


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


class StoreUnavailable(TaskStoreError):
    """The store's server (distributed mode's Redis) cannot be reached, even after retrying with back-off."""

    def __init__(self) -> None:
        super().__init__("the task store (Redis) cannot be reached; try again in a few seconds")


class TaskTakenOver(TaskStoreError):
    """A worker reported the end of a task that another worker has taken over (its lease ran out while it was
    stalled or cut off from the store): the end is dropped, the other worker's run goes on."""

    def __init__(self, task_id: str, worker_id: str) -> None:
        super().__init__(f"task {task_id} is now run by worker {worker_id}; this worker's end of it is dropped")
        self.task_id, self.worker_id = task_id, worker_id


class TaskEnded(TaskStoreError):
    """A write that would change a task that has ended: a terminal state is final (no second end, no event after
    the terminal one), so that no watcher ever sees a task end twice."""

    def __init__(self, task_id: str, state: TaskState) -> None:
        super().__init__(f"task {task_id} has already ended ({state.value}); its end stays as it is")
        self.task_id, self.state = task_id, state


class TaskNotQueued(TaskStoreError, ValueError):
    """A queue move of a task that no longer waits in the queue (it runs, or it has ended): a ValueError, as the
    Python API's other refusals of a task's state are."""

    def __init__(self, task_id: str, state: TaskState) -> None:
        super().__init__(f"task {task_id} is {state.value}, not queued: only a queued task can be moved")
        self.task_id, self.state = task_id, state


class QueueFull(TaskStoreError):
    """A submission over the per-identity or the overall queue limit."""

    def __init__(self, message: str, retry_after_s: int = 5, code: ErrorCode = ErrorCode.QUEUE_FULL) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.code = code  # which limit it is

    @classmethod
    def owner_full(cls, limits: TaskLimits) -> QueueFull:
        return cls(f"you already have {limits.max_active_per_identity} queued or running tasks; "
                   "wait for one to finish or cancel one", code=ErrorCode.OWNER_FULL)

    @classmethod
    def inputs_full(cls, limits: TaskLimits) -> QueueFull:
        return cls(f"your queued and running tasks' input images would take more than "
                   f"{limits.max_input_bytes_per_identity / 1e6:g} MB; wait for one to finish or cancel one",
                   code=ErrorCode.INPUTS_FULL)

    @classmethod
    def queue_full(cls, limits: TaskLimits) -> QueueFull:
        return cls(f"the queue is full ({limits.max_queued_total} tasks); try again later")


# The error ``recover()`` gives a task it finds running with nothing left to run it.
RECOVERED_ERROR = "the server stopped while this task was running"


class TaskStore(Protocol):
    # --- tasks -----------------------------------------------------------------------------
    def create(self, task: Task, limits: TaskLimits | None = None) -> tuple[Task, TaskEvent]:
        """Queue the task and append its ``queued`` event. With ``limits``, the owner's active tasks (and their input
        images' bytes) and the whole queue are counted in the same transaction: QueueFull instead of going over."""
        ...

    def get(self, task_id: str) -> Task:
        """The task with its queue position, queue size and "In queue: X/Y" progress filled in; raises
        TaskNotFound. Places are computed when read, never stored: a claim or a cancel writes nothing to the
        other queued tasks (no event, no row), so a queue move costs O(1) writes."""
        ...

    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        """Newest first, queued ones with their places as ``get`` fills them in; ``owner=None`` lists everyone's."""
        ...

    def count(self, owner: str | None = None, states: Iterable[TaskState] | None = None) -> int: ...

    def queued_ids(self, owner: str | None = None) -> builtins.list[str]:
        """Queued task ids (of one owner, or everyone's) in the order they will run: the queue's places
        without reading the tasks themselves."""
        ...

    def claim_next(self, worker_id: str) -> Task | None:
        """Atomically move the first queued task in the store's policy order (``queue_order.serving_order``) to
        running and return it (None when paused/empty)."""
        ...

    def move(self, task_id: str, to: MoveTo, run_next: bool = False) -> Task:
        """Move a queued task among its owner's queued tasks (``queue_order.reranked``: one or two rank writes, never
        one per queued task); with ``run_next`` (an admin's ``front``) before every queued task, its owner taking the
        next turn. Returns the task with its new place; raises TaskNotQueued."""
        ...

    # --- written by the worker while a task runs -------------------------------------------
    def add_image(self, task_id: str, image: ImageRef) -> TaskEvent:
        """Keep a finished image and append its ``image`` event."""
        ...

    def add_preview(self, task_id: str, data: bytes, media_type: str) -> TaskEvent:
        """Keep a live preview under the task's next preview id and append its ``preview`` event."""
        ...

    def finish(self, task_id: str, end: TaskEnd) -> tuple[Task, TaskEvent]:
        """The terminal state and the terminal event, in one transaction; a pending stop request is
        dropped (it has been honoured, or there is nothing left to stop). Raises TaskEnded when the task has
        ended already: a terminal state is final."""
        ...

    # --- control ---------------------------------------------------------------------------
    def request_stop(self, task_id: str, request: StopRequest) -> tuple[Task, TaskEvent | None]:
        """Apply a stop request in one transaction: an interrupt cancels a queued task (and returns its
        ``cancelled`` event); a running task keeps the request so that a worker that claims it late
        still honours it (an interrupt is never downgraded to a skip, a skip expires when its job
        ends); anything else is left as it is."""
        ...

    def cancel_queued(self, owner: str | None = None) -> builtins.list[TaskEvent]:
        """Cancel every queued task of ``owner`` (None: everyone's) in one transaction, each with its ``cancelled``
        event (reason 'user'), in queue order; returns those events. A running task is left as it is."""
        ...

    # --- events ----------------------------------------------------------------------------
    def append_event(
        self, task_id: str, type: EventType, data: EventData, progress: TaskProgress | None = None
    ) -> TaskEvent:
        """Give the event the task's next sequence number and keep it for replay; ``progress`` becomes the
        task's current progress in the same write (one transaction per step on the hot path). Raises TaskEnded
        for a task that has ended: its terminal event is its last."""
        ...

    def events_since(self, task_id: str, after_seq: int = 0) -> builtins.list[TaskEvent]: ...

    def get_preview(self, task_id: str, preview_id: int | None = None) -> tuple[int, bytes, str] | None:
        """(id, bytes, media type) of the given preview, or of the latest when ``preview_id`` is None."""
        ...

    # --- housekeeping ----------------------------------------------------------------------
    def recover(self) -> builtins.list[TaskEvent]:
        """After a crash: tasks left running become interrupted, and a finished task whose terminal event
        is missing gets it; a stored task that cannot be read (a damaged record) is quarantined: failed, with the
        reason, readable again. Returns the terminal events appended."""
        ...

    def prune(self, keep: int, keep_total: int | None = None, keep_bytes: int | None = None) -> builtins.list[Task]:
        """Drop the finished tasks beyond the ``keep`` of each owner that finished last (never the one that just
        finished, however long ago it was created), beyond ``keep_bytes`` of each owner's input images, and, past
        ``keep_total`` in all, those ``history.beyond_limits`` chooses (the owner holding the most first); returns
        them so their files can go too."""
        ...

    def set_paused(self, paused: bool) -> None: ...

    def is_paused(self) -> bool: ...

    def claim_notice(self, task_id: str) -> bool:
        """True for the first caller only, False for every later one and for an unknown task: the caller that
        gets True sends the task's end notice (every API server follows the same ends in distributed mode)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class JobSplittingStore(TaskStore, Protocol):
    """A store that runs a batch's jobs on several workers at once (the Redis store with ``split_batches``):
    ``claim_next`` may then hand out one job of a task (``Task.claim``), whose run reports through these."""

    def append_job_progress(self, task_id: str, job_no: int, progress: TaskProgress) -> TaskEvent | None:
        """Keep one job's own progress and append the task's progress, combined over its jobs; None when that would
        move the task's bar back (another job's report overtook this one) or the task has ended."""
        ...

    def finish_job(self, task_id: str, end: TaskEnd) -> dict[int, TaskEnd | None] | None:
        """Keep how job ``end.job_no`` ended. None while other jobs of the task run or wait; for the last one, every
        job's end (None for a job that never ran: an interrupt or a failure dropped it), for the caller to merge
        and store with :meth:`finish`. Raises TaskTakenOver when another worker runs that job now."""
        ...

    def return_job(self, task_id: str, job_no: int, worker_id: str) -> bool:
        """Queue a job again that ``worker_id`` ran and did not end (it shuts down), for another worker; False when
        the job is not that worker's any more (taken over) or the task has ended."""
        ...
