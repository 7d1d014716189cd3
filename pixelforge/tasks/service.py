"""TaskService: the one way in for every front end (server, CLI, Python API) and for the workers.

It only touches the TaskStore and the EventBus: submitting writes a task, stopping writes a stop
request and announces it on the bus, watching replays stored events and then follows the bus, and a
worker claims, runs (through a task context) and finishes tasks. Nothing outside ``tasks/`` reaches
the store itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelforge.tasks.bus import ControlHandler, EventBus, Subscription
from pixelforge.tasks.context import StoredTaskContext, TaskContext
from pixelforge.tasks.files import sweep_leftovers
from pixelforge.tasks.history import prune_history
from pixelforge.tasks.model import (
    EventType,
    Problem,
    StopRequest,
    Task,
    TaskEnd,
    TaskEvent,
    TaskLimits,
    TaskParams,
    TaskState,
    new_seed,
    new_task_id,
)
from pixelforge.tasks.stop import StopToken
from pixelforge.tasks.store import QueueFull, TaskStore

log = logging.getLogger(__name__)

# Retry-After when no running task has an ETA yet.
DEFAULT_RETRY_S = 5


@dataclass(frozen=True)
class HistoryPolicy:
    """Finished tasks beyond ``keep`` go, with their files under ``data_dir``."""

    data_dir: Path
    keep: int


class InvalidTask(ValueError):
    """Parameters that are well-formed but outside what this server accepts."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


# Checks a front end cannot make from the parameters alone (is the model here? is the LoRA readable?).
# Each returns the problems it found.
ParamsCheck = Callable[[TaskParams], list[Problem]]


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        bus: EventBus,
        limits: TaskLimits | None = None,
        checks: Sequence[ParamsCheck] = (),
        history: HistoryPolicy | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits or TaskLimits()
        self.checks = list(checks)
        self.history = history

    # --- events ----------------------------------------------------------------------------
    def _emit(self, task_id: str, type: EventType, data: dict | None = None) -> TaskEvent:
        event = self.store.append_event(task_id, type, data or {})
        self.bus.publish(event)
        return event

    def announce_positions(self) -> None:
        """Tell every queued task its new place after the queue moved."""
        queued = self.store.queued_ids()
        for position, task_id in enumerate(queued, start=1):
            self._emit(task_id, EventType.QUEUED, {"position": position, "size": len(queued)})

    # --- submitting ------------------------------------------------------------------------
    def submit(
        self,
        params: TaskParams,
        *,
        owner: str = "local",
        task_id: str | None = None,
        task_type: str = "txt2img",
    ) -> Task:
        """Queue a task. Raises InvalidTask (bad parameters), QueueFull (the owner's or the overall queue
        limit, counted inside the store's transaction) or TaskExists."""
        problems = self.limits.violations(params)
        for check in self.checks:
            problems.extend(check(params))
        if problems:
            raise InvalidTask(problems)
        if params.seed == -1:
            params = params.model_copy(update={"seed": new_seed()})
        task = Task(id=task_id or new_task_id(task_type), type=task_type, owner=owner, params=params)
        try:
            task, event = self.store.create(task, self.limits)
        except QueueFull as exc:
            exc.retry_after_s = self.retry_after_s()
            raise
        self.bus.publish(event)
        return task

    def retry_after_s(self) -> int:
        """When a queue slot is likely to free up: the running task's ETA, else a short guess."""
        running = self.store.list(states=[TaskState.RUNNING], limit=1)
        eta = running[0].progress.eta_s if running else None
        return max(1, math.ceil(eta)) if eta is not None else DEFAULT_RETRY_S

    # --- reading ---------------------------------------------------------------------------
    def get(self, task_id: str) -> Task:
        return self.store.get(task_id)

    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        return self.store.list(owner=owner, states=states, limit=limit, offset=offset)

    def count(self, owner: str | None = None, states: Iterable[TaskState] | None = None) -> int:
        return self.store.count(owner=owner, states=states)

    def queued_ids(self) -> list[str]:
        return self.store.queued_ids()

    def events_since(self, task_id: str, after_seq: int = 0) -> list[TaskEvent]:
        return self.store.events_since(task_id, after_seq)

    def get_preview(self, task_id: str, preview_id: int | None = None) -> tuple[int, bytes, str] | None:
        return self.store.get_preview(task_id, preview_id)

    def is_paused(self) -> bool:
        return self.store.is_paused()

    def set_paused(self, paused: bool) -> None:
        self.store.set_paused(paused)

    # --- stopping --------------------------------------------------------------------------
    def cancel(self, task_id: str) -> Task:
        """Cancel a queued task, interrupt a running one; a finished task is left as it is."""
        return self.interrupt(task_id)

    def interrupt(self, task_id: str, *, keep_partial: bool = False, reason: str = "user") -> Task:
        return self._stop(task_id, StopRequest(action="interrupt", keep_partial=keep_partial, reason=reason))

    def skip(self, task_id: str) -> Task:
        return self._stop(task_id, StopRequest(action="skip"))

    def _stop(self, task_id: str, request: StopRequest) -> Task:
        """One store write, then one publish: the ``cancelled`` event of a task that was still queued, or
        the request itself for the worker running it (a worker that registers its token after this
        write finds the request in the store instead)."""
        task, cancelled = self.store.request_stop(task_id, request)
        if cancelled is not None:
            self.bus.publish(cancelled)
            self.announce_positions()
        elif task.state is TaskState.RUNNING:
            self.bus.publish_control(task_id, request)
        return task

    def subscribe(self, task_id: str | None = None, types: frozenset[EventType] | None = None) -> Subscription:
        """Live events only (no replay): what a worker waits on, or a registry that follows cancellations."""
        return self.bus.subscribe(task_id, types)

    # --- the worker's side -----------------------------------------------------------------
    def on_stop_request(self, handler: ControlHandler) -> Callable[[], None]:
        """Have ``handler`` called with every stop request for a running task; returns the unregister."""
        return self.bus.on_control(handler)

    def claim_next(self, worker_id: str) -> Task | None:
        return self.store.claim_next(worker_id)

    def start(self, task: Task, token: StopToken, device: str, worker_id: str | None = None) -> TaskContext:
        """Announce a claimed task as started (on which device, by which worker) and hand out its context.
        ``token`` must already receive the bus's stop requests: a request stored before that is applied
        to it here."""
        pending = self.store.get(task.id).stop_request
        if pending is not None:
            token.request(pending)
        started = {"worker_device": device} | ({"worker_id": worker_id} if worker_id else {})
        self._emit(task.id, EventType.STARTED, started)
        self.announce_positions()
        return StoredTaskContext(task, token, self.store, self.bus)

    def finish(self, task_id: str, end: TaskEnd) -> Task:
        """Store how the task ended with its terminal event, trim the history, then announce the end (so
        whoever sees that event finds the history trimmed already). A failure the runner did not describe
        (one around the task, not in it) still says so in the progress text, never a stale 'Loading model…'."""
        if end.state is TaskState.FAILED and end.progress is None:
            last = self.store.get(task_id).progress
            end = end.model_copy(update={"progress": last.model_copy(
                update={"textinfo": f"Failed: {end.error or 'unknown error'}", "eta_s": None})})
        task, event = self.store.finish(task_id, end)
        try:
            self.prune_history()
        except Exception:  # the end is stored: a history that stays long for now must not undo that
            log.exception("could not prune the history after %s", task_id)
        self.bus.publish(event)
        return task

    def recover(self) -> list[str]:
        """After a restart: end what the last process left running; returns the tasks it ended."""
        events = self.store.recover()
        for event in events:
            self.bus.publish(event)
        return [event.task_id for event in events]

    def prune_history(self) -> int:
        if self.history is None:
            return 0
        return prune_history(self.store, self.history.data_dir, self.history.keep)

    def sweep_leftovers(self, images_dir: Path) -> list[Path]:
        """Before any worker starts: delete what a crash left in ``images_dir`` (half-written files, files
        no task refers to). Needs the history policy's data directory; returns what went."""
        if self.history is None:
            return []
        return sweep_leftovers(self.store, self.history.data_dir, images_dir)

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

    async def await_end(self, task_id: str) -> Task:
        """Async :meth:`wait`, for the server's blocking routes."""
        async for _ in self.aevents(task_id):
            pass
        return await asyncio.to_thread(self.store.get, task_id)
