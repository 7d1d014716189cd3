"""The task context: everything a running task may do, and nothing else.

The engine receives one per task (the shape InvokeAI's invocation context proves): it reads the
task's parameters and its stop token, reports progress, adds finished images and live previews.
It never sees the store or the bus, so it cannot change another task, a task's state, or the queue;
how a run ended goes back to the worker as the job loop's result (a ``TaskEnd``).
"""

from __future__ import annotations

from typing import Protocol

from pixelforge.tasks.bus import EventBus
from pixelforge.tasks.events import ProgressPayload
from pixelforge.tasks.model import EventType, ImageRef, Task, TaskProgress
from pixelforge.tasks.stop import StopToken
from pixelforge.tasks.store import JobSplittingStore, TaskStore


class TaskContext(Protocol):
    @property
    def task(self) -> Task:
        """The task as claimed: id and parameters (a snapshot, not live state)."""
        ...

    @property
    def stop(self) -> StopToken:
        """The task's own stop token: read it between units of work."""
        ...

    def report_progress(self, progress: TaskProgress) -> None: ...

    def add_image(self, image: ImageRef) -> None:
        """A finished image, written to its files already; watchers get it at once."""
        ...

    def add_preview(self, data: bytes, media_type: str) -> None:
        """An encoded live preview; it gets the task's next preview id."""
        ...


class StoredTaskContext:
    """The context over a TaskStore and an EventBus: each call is one store write and one publish."""

    def __init__(self, task: Task, stop: StopToken, store: TaskStore, bus: EventBus) -> None:
        self._task = task
        self._stop = stop
        self._store = store
        self._bus = bus

    @property
    def task(self) -> Task:
        return self._task

    @property
    def stop(self) -> StopToken:
        return self._stop

    def report_progress(self, progress: TaskProgress) -> None:
        payload = ProgressPayload.of(progress)
        self._bus.publish(self._store.append_event(self._task.id, EventType.PROGRESS, payload, progress))

    def add_image(self, image: ImageRef) -> None:
        self._bus.publish(self._store.add_image(self._task.id, image))

    def add_preview(self, data: bytes, media_type: str) -> None:
        self._bus.publish(self._store.add_preview(self._task.id, data, media_type))


class JobContext(StoredTaskContext):
    """The context of one job of a task whose jobs run on several workers at once: its progress is the job's own,
    which the store combines with the other jobs' into the task's."""

    def __init__(self, task: Task, stop: StopToken, store: JobSplittingStore, bus: EventBus) -> None:
        super().__init__(task, stop, store, bus)
        self._splitting = store

    def report_progress(self, progress: TaskProgress) -> None:
        assert self._task.claim is not None
        event = self._splitting.append_job_progress(self._task.id, self._task.claim.job_no, progress)
        if event is not None:
            self._bus.publish(event)
