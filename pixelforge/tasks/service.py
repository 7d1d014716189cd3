"""TaskService: the operations every front end shares (server, CLI, Python API).

It only touches the TaskStore and the EventBus: submitting writes a task, stopping writes a stop
request and announces it on the bus, watching replays stored events and then follows the bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from pixelforge.tasks.bus import EventBus, Subscription
from pixelforge.tasks.model import (
    EventType,
    StopRequest,
    Task,
    TaskEvent,
    TaskLimits,
    TaskParams,
    TaskProgress,
    TaskState,
    new_seed,
    new_task_id,
)
from pixelforge.tasks.store import TaskStore


class InvalidTask(ValueError):
    """Parameters that are well-formed but outside what this server accepts."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# Checks a front end cannot make from the parameters alone (is the model here? is the LoRA readable?).
# Each returns the problems it found, as messages fit for a user.
ParamsCheck = Callable[[TaskParams], list[str]]


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        bus: EventBus,
        limits: TaskLimits | None = None,
        checks: Sequence[ParamsCheck] = (),
    ) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits or TaskLimits()
        self.checks = list(checks)

    # --- events ----------------------------------------------------------------------------
    def emit(self, task_id: str, type: EventType, data: dict[str, Any] | None = None) -> TaskEvent:
        event = self.store.append_event(task_id, type, data or {})
        self.bus.publish(event)
        return event

    def report_progress(self, task_id: str, progress: TaskProgress) -> TaskEvent:
        """Store the task's progress and publish it as a ``progress`` event, in one write."""
        event = self.store.append_event(task_id, EventType.PROGRESS, progress.model_dump(mode="json"), progress)
        self.bus.publish(event)
        return event

    def announce_positions(self) -> None:
        """Tell every queued task its new place after the queue moved."""
        queued = self.store.queued_ids()
        for position, task_id in enumerate(queued, start=1):
            self.emit(task_id, EventType.QUEUED, {"position": position, "size": len(queued)})

    # --- submitting ------------------------------------------------------------------------
    def submit(
        self,
        params: TaskParams,
        *,
        owner: str = "local",
        task_id: str | None = None,
        task_type: str = "txt2img",
    ) -> Task:
        problems = self.limits.violations(params)
        for check in self.checks:
            problems.extend(check(params))
        if problems:
            raise InvalidTask(problems)
        if params.seed == -1:
            params = params.model_copy(update={"seed": new_seed()})
        task = Task(id=task_id or new_task_id(task_type), type=task_type, owner=owner, params=params)
        task = self.store.create(task)
        position, size = task.position or 1, task.queue_size or 1
        self.emit(task.id, EventType.QUEUED, {"position": position, "size": size})
        return task

    # --- stopping --------------------------------------------------------------------------
    def cancel(self, task_id: str) -> Task:
        """Cancel a queued task, interrupt a running one; a finished task is left as it is."""
        return self.interrupt(task_id)

    def interrupt(self, task_id: str, *, keep_partial: bool = False, reason: str = "user") -> Task:
        if self.store.cancel_if_queued(task_id):
            self.emit(task_id, EventType.CANCELLED, {"reason": reason})
            self.announce_positions()
            return self.store.get(task_id)
        return self._request(task_id, StopRequest(action="interrupt", keep_partial=keep_partial, reason=reason))

    def skip(self, task_id: str) -> Task:
        return self._request(task_id, StopRequest(action="skip"))

    def _request(self, task_id: str, request: StopRequest) -> Task:
        task = self.store.get(task_id)
        if task.state is not TaskState.RUNNING:
            return task
        # An interrupt is announced before the write so the running job stops without waiting for the
        # database, and again after it for a worker that registered its token in between (it re-reads the
        # store). A skip is announced once, after the write: delivered twice, the second copy could land
        # after the worker had honoured the first and skip the next job too.
        if request.action == "interrupt":
            self.bus.publish_control(task_id, request)
        task = self.store.record_stop_request(task_id, request)
        self.bus.publish_control(task_id, request)
        return task

    # --- watching --------------------------------------------------------------------------
    def events(self, task_id: str, after_seq: int = 0, timeout: float | None = None) -> Iterator[TaskEvent]:
        """Every event of the task after ``after_seq``, live, ending with its terminal event."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.bus.subscribe(task_id) as subscription:
            last = after_seq
            for event in self.store.events_since(task_id, last):
                last = event.seq
                yield event
                if event.type.is_terminal:
                    return
            while deadline is None or time.monotonic() < deadline:
                wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                event = subscription.get(wait)
                for ready in self._in_order(subscription, event, task_id, last):
                    last = ready.seq
                    yield ready
                    if ready.type.is_terminal:
                        return

    async def aevents(
        self, task_id: str, after_seq: int = 0, heartbeat_s: float | None = None
    ) -> AsyncIterator[TaskEvent | None]:
        """Async :meth:`events`; yields None every ``heartbeat_s`` of silence (for SSE keep-alives)."""
        subscription = self.bus.subscribe(task_id)
        try:
            last = after_seq
            for event in await asyncio.to_thread(self.store.events_since, task_id, last):
                last = event.seq
                yield event
                if event.type.is_terminal:
                    return
            while True:
                event = await subscription.aget(heartbeat_s)
                if event is None and not subscription.lagged:
                    yield None
                    continue
                if subscription.lagged or (event is not None and event.seq > last + 1):
                    # A gap is filled from the store: do that off the event loop.
                    ready_events = await asyncio.to_thread(self._in_order, subscription, event, task_id, last)
                else:
                    # The common case touches no store; a thread hop per event per watcher would
                    # dominate the push latency with hundreds of SSE watchers (server_bench.py).
                    ready_events = self._in_order(subscription, event, task_id, last)
                for ready in ready_events:
                    last = ready.seq
                    yield ready
                    if ready.type.is_terminal:
                        return
        finally:
            subscription.close()

    def _in_order(
        self, subscription: Subscription, event: TaskEvent | None, task_id: str, last: int
    ) -> list[TaskEvent]:
        """Events after ``last`` without gaps: a gap (or a lagged inbox) is filled from the store."""
        if subscription.lagged or (event is not None and event.seq > last + 1):
            subscription.lagged = False
            while subscription.get(0) is not None:  # drained: the store has all of them
                pass
            return self.store.events_since(task_id, last)
        if event is None or event.seq <= last:
            return []
        return [event]

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        """Block until the task reaches a terminal state (or ``timeout``); returns it."""
        for _ in self.events(task_id, timeout=timeout):
            pass
        return self.store.get(task_id)
