"""TaskService: the one way in for every front end (server, CLI, Python API) and for the workers.

It only touches the TaskStore and the EventBus: submitting writes a task, stopping writes a stop
request and announces it on the bus, watching replays stored events and then follows the bus, and a
worker claims, runs (through a task context) and finishes tasks. The front ends and the engine reach the
store only through it: its methods where a rule goes with the call (a write that must be announced, a
start estimate to fill in, limits to check), its ``store`` (the TaskStore protocol) for what the store
answers as it is (counts, the queue's order, stored events, previews, the pause switch, a worker's claim).
Besides the service, only the composition roots touch a store: ``runtime.py`` and ``distributed.py`` build
it, and a distributed worker's heartbeat and the health route read the Redis store's worker records directly.

Watching a task (its stored events, then live ones, and its place in the queue while it waits) is
``follow.Follower``, which the blocking and the async stream here both drive.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelforge.tasks.bus import ControlHandler, EventBus, Subscription
from pixelforge.tasks.context import JobContext, StoredTaskContext, TaskContext
from pixelforge.tasks.events import Payload, StartedPayload, TaskEvent
from pixelforge.tasks.files import InputFolder, sweep_leftovers
from pixelforge.tasks.follow import Follower
from pixelforge.tasks.history import prune_history
from pixelforge.tasks.input_images import ImageRejected, ImageUpload, InputImage, read_upload
from pixelforge.tasks.model import (
    EventType,
    Img2ImgOptions,
    Problem,
    StopRequest,
    StopWhen,
    Task,
    TaskEnd,
    TaskInputs,
    TaskLimits,
    TaskOrigin,
    TaskParams,
    TaskState,
    new_seed,
    new_task_id,
)
from pixelforge.tasks.notices import CallbackPolicy
from pixelforge.tasks.queue_order import MoveTo
from pixelforge.tasks.queue_places import QueuePlaces
from pixelforge.tasks.start_times import StartTimes
from pixelforge.tasks.stop import StopToken
from pixelforge.tasks.store import JobSplittingStore, QueueFull, StoreUnavailable, TaskStore

log = logging.getLogger(__name__)

# More running tasks than any deployment has workers: "cancel all" reads them in one page.
MAX_RUNNING_LISTED = 10_000
# Retry-After when no running task has an ETA yet.
DEFAULT_RETRY_S = 5
# A blocking route waits through an outage of the store (a Redis restart) for up to this long, looking again every
# STORE_RETRY_S.
STORE_OUTAGE_WAIT_S = 120.0
STORE_RETRY_S = 1.0


@dataclass(frozen=True)
class HistoryPolicy:
    """Finished tasks beyond ``keep`` per identity, or beyond ``keep_total`` in all (the identity holding the most
    first), go, with their files under ``data_dir``."""

    data_dir: Path
    keep: int
    keep_total: int | None = None
    keep_bytes: int | None = None  # of input images, per identity


class NotRetryable(ValueError):
    """A retry of a task that is queued, running or completed (only a failed, interrupted or cancelled one is)."""

    def __init__(self, task: Task) -> None:
        super().__init__(f"task {task.id} is {task.state.value}: only a failed, interrupted or cancelled task can be "
                         "retried")


# What a retry may start again from.
RETRYABLE_STATES = frozenset({TaskState.FAILED, TaskState.INTERRUPTED, TaskState.CANCELLED})


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
        inputs: InputFolder | None = None,
        workers: Callable[[], int] = lambda: 1,
        callbacks: CallbackPolicy | None = None,
    ) -> None:
        """``workers``: how many workers take this queue's tasks now (for the queued tasks' start estimates);
        ``callbacks``: where end notices may go (none: a task with a callback URL is refused)."""
        self.store = store
        self.bus = bus
        self.places = QueuePlaces(store, bus)
        self.starts = StartTimes(store, bus, workers)
        self.callbacks = callbacks or CallbackPolicy()
        self.limits = limits or TaskLimits()
        self.checks = list(checks)
        self.history = history
        self.inputs = inputs

    # --- events ----------------------------------------------------------------------------
    def _emit(self, task_id: str, type: EventType, data: Payload) -> TaskEvent:
        event = self.store.append_event(task_id, type, data)
        self.bus.publish(event)
        return event

    # --- submitting ------------------------------------------------------------------------
    def submit(
        self,
        params: TaskParams,
        *,
        owner: str = "local",
        task_id: str | None = None,
        images: ImageUpload | None = None,
        origin: TaskOrigin | None = None,
    ) -> Task:
        """Queue a task: an img2img task when ``images`` are given (their files are checked and stored with
        the task, or nothing is stored). Raises InvalidTask (bad parameters or images), QueueFull (the
        owner's or the overall queue limit, counted inside the store's transaction) or TaskExists.
        ``origin``: a retry's source, the callback URL (a seed of -1 is noted in it, for a retry)."""
        problems = self.limits.violations(params)
        for check in self.checks:
            problems.extend(check(params))
        if origin is not None and origin.callback_url is not None:
            problems.extend(self.callbacks.problems(origin.callback_url))
        if images is None and params.img2img is not None:
            problems.append(Problem(field="img2img", message="img2img options need an init image"))
        decoded = None
        if images is not None and not problems:
            try:
                decoded = read_upload(images, self.limits.max_input_pixels)
            except ImageRejected as exc:
                problems.append(exc.problem)
        if problems:
            raise InvalidTask(problems)
        origin = origin or TaskOrigin()
        if params.seed == -1:
            params = params.model_copy(update={"seed": new_seed()})
            origin = origin.model_copy(update={"random_seed": True})
        task_type = "txt2img" if decoded is None else "img2img"
        if decoded is not None and params.img2img is None:
            params = params.model_copy(update={"img2img": Img2ImgOptions()})
        task = Task(id=task_id or new_task_id(task_type), type=task_type, owner=owner, params=params, origin=origin)
        if decoded is not None:
            task.inputs = self._store_inputs(task.id, *decoded)
        try:
            task, event = self.store.create(task, self.limits)
        except BaseException as exc:
            if task.inputs is not None and self.inputs is not None:  # nothing stays of a refused task
                self.inputs.remove(task.inputs.files())
            if isinstance(exc, QueueFull):
                exc.retry_after_s = self.retry_after_s()
            raise
        self.bus.publish(event)
        return task

    def retry(self, task_id: str, new_id: str | None = None) -> Task:
        """A new task (``new_id``, else a fresh id) with the parameters (and input images) of a failed, interrupted
        or cancelled one, for the same owner, noting which it retries; a new seed when the old one was random.
        Raises NotRetryable, and what :meth:`submit` raises (the queue limits count the new task)."""
        old = self.store.get(task_id)
        if old.state not in RETRYABLE_STATES:
            raise NotRetryable(old)
        params = old.params.model_copy(update={"seed": -1}) if old.origin.random_seed else old.params
        images = None
        if old.inputs is not None:
            if self.inputs is None:
                raise InvalidTask([Problem(field="init_image", message="this service has no folder for input images")])
            images = self.inputs.read(old.inputs)
        origin = TaskOrigin(retried_from=old.id, callback_url=old.origin.callback_url)
        return self.submit(params, owner=old.owner, task_id=new_id, images=images, origin=origin)

    def _store_inputs(self, task_id: str, image: InputImage, mask: InputImage | None) -> TaskInputs:
        if self.inputs is None:
            raise InvalidTask([Problem(field="init_image", message="this service has no folder for input images")])
        return self.inputs.save(task_id, image, mask)

    def retry_after_s(self) -> int:
        """When a queue slot is likely to free up: the running task's ETA, else a short guess."""
        running = self.store.list(states=[TaskState.RUNNING], limit=1)
        eta = running[0].progress.eta_s if running else None
        return max(1, math.ceil(eta)) if eta is not None else DEFAULT_RETRY_S

    # --- reading ---------------------------------------------------------------------------
    def get(self, task_id: str) -> Task:
        return self._with_start(self.store.get(task_id))

    def _with_start(self, task: Task) -> Task:
        """A queued task with its ``starts_in_s`` (from one reading of the queue per queue move)."""
        if task.state is TaskState.QUEUED:
            task.starts_in_s = self.starts.starts_in_s(task.id)
        return task

    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        return [self._with_start(task) for task in self.store.list(owner=owner, states=states, limit=limit,
                                                                    offset=offset)]

    # --- stopping --------------------------------------------------------------------------
    def cancel(self, task_id: str) -> Task:
        """Cancel a queued task, interrupt a running one; a finished task is left as it is."""
        return self.interrupt(task_id)

    def interrupt(
        self, task_id: str, *, keep_partial: bool = False, reason: str = "user", when: StopWhen = "now"
    ) -> Task:
        """``when='after_job'``: the running job finishes and is kept, no further job starts (a queued task is
        cancelled all the same); a later plain interrupt stops it at once."""
        return self._stop(
            task_id, StopRequest(action="interrupt", keep_partial=keep_partial, reason=reason, when=when))

    def skip(self, task_id: str, *, keep_partial: bool = False) -> Task:
        return self._stop(task_id, StopRequest(action="skip", keep_partial=keep_partial))

    def cancel_queue(self, owner: str | None, *, running_too: bool = False) -> builtins.list[str]:
        """Cancel every queued task of ``owner`` (None: everyone's) in one store write; with ``running_too``, the
        running ones are interrupted as well (after the queue is emptied: a worker freed by the interrupt finds
        nothing of theirs left to start). Returns the ids ended, queue order first."""
        cancelled = self.store.cancel_queued(owner)
        for event in cancelled:
            self.bus.publish(event)
        if cancelled:
            self.bus.publish_queue_moved()
        ended = [event.task_id for event in cancelled]
        if running_too:
            for task in self.store.list(owner=owner, states=[TaskState.RUNNING], limit=MAX_RUNNING_LISTED):
                self.interrupt(task.id)
                ended.append(task.id)
        return ended

    def move(self, task_id: str, to: MoveTo, *, run_next: bool = False) -> Task:
        """Move a queued task among its owner's queued tasks (``queue_order``); ``run_next`` (an admin's ``front``)
        puts it before every queued task. Every watcher of a queued task is told its new place."""
        task = self.store.move(task_id, to, run_next)
        self.bus.publish_queue_moved()
        return self._with_start(task)

    def _stop(self, task_id: str, request: StopRequest) -> Task:
        """One store write, then one publish: the ``cancelled`` event of a task that was still queued, or
        the request itself for the worker running it (a worker that registers its token after this
        write finds the request in the store instead)."""
        task, cancelled = self.store.request_stop(task_id, request.model_copy(update={"at": time.time()}))
        if cancelled is not None:
            self.bus.publish(cancelled)
            self.bus.publish_queue_moved()
        elif task.state is TaskState.RUNNING and task.stop_request is not None:
            # As stored: a store that splits jobs over workers names the jobs a skip is meant for (and keeps none
            # when no job of the task runs at that moment).
            self.bus.publish_control(task_id, task.stop_request)
        return task

    def subscribe(self, task_id: str | None = None, types: frozenset[EventType] | None = None) -> Subscription:
        """Live events only (no replay): what a worker waits on, or a registry that follows cancellations."""
        return self.bus.subscribe(task_id, types)

    # --- the worker's side -----------------------------------------------------------------
    def on_stop_request(self, handler: ControlHandler) -> Callable[[], None]:
        """Have ``handler`` called with every stop request for a running task; returns the unregister."""
        return self.bus.on_control(handler)

    def start(self, task: Task, token: StopToken, device: str, worker_id: str | None = None) -> TaskContext:
        """Announce a claimed task as started (on which device, by which worker) and hand out its context.
        ``token`` must already receive the bus's stop requests: a request stored before that is applied
        to it here. A claim of one job (``task.claim``) announces the task only when it is its first."""
        pending = self.store.get(task.id).stop_request
        if pending is not None and pending.applies_to(task.claim.job_no if task.claim else None):
            token.request(pending)
        if task.claim is None or task.claim.starts_task:
            started = StartedPayload(worker_device=device, **({"worker_id": worker_id} if worker_id else {}))
            self._emit(task.id, EventType.STARTED, started)
            self.bus.publish_queue_moved()
        if task.claim is not None:
            return JobContext(task, token, self._splitting(), self.bus)
        return StoredTaskContext(task, token, self.store, self.bus)

    def _splitting(self) -> JobSplittingStore:
        if not isinstance(self.store, JobSplittingStore):
            raise TypeError(f"{type(self.store).__name__} does not split a batch's jobs over workers")
        return self.store

    def finish_job(self, task_id: str, end: TaskEnd) -> dict[int, TaskEnd | None] | None:
        """Store how one job of a split task ended (``end.job_no``). Returns every job's end when it was the last,
        for the caller to merge (``job_ends.merge_job_ends``), add the batch's sheet to and :meth:`finish`."""
        return self._splitting().finish_job(task_id, end)

    def return_job(self, task_id: str, job_no: int, worker_id: str) -> bool:
        """Give a job of a split task back to the queue (its worker shuts down); True when it was queued again."""
        return self._splitting().return_job(task_id, job_no, worker_id)

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
        # The work ahead of every queued task just changed (a worker is free): their start estimates are told again.
        self.bus.publish_queue_moved()
        return task

    def recover(self) -> builtins.list[str]:
        """After a restart: end what the last process left running; returns the tasks it ended."""
        events = self.store.recover()
        for event in events:
            self.bus.publish(event)
        return [event.task_id for event in events]

    def prune_history(self) -> int:
        if self.history is None:
            return 0
        history = self.history
        return prune_history(self.store, history.data_dir, history.keep, history.keep_total, history.keep_bytes)

    def sweep_leftovers(self, images_dir: Path) -> builtins.list[Path]:
        """Before any worker starts: delete what a crash left in ``images_dir`` (half-written files, files
        no task refers to). Needs the history policy's data directory; returns what went."""
        if self.history is None:
            return []
        return sweep_leftovers(self.store, self.history.data_dir, images_dir)

    # --- watching --------------------------------------------------------------------------
    def events(
        self, task_id: str, after_seq: int = 0, timeout: float | None = None, places: bool = True
    ) -> Iterator[TaskEvent]:
        """Every event of the task after ``after_seq``, live, ending with its terminal event. With ``places``,
        while the task waits, a live ``queued`` event each time its place changed (``follow.Follower``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.bus.subscribe(task_id, queue_moves=places) as subscription:
            follower = self._follower(task_id, after_seq, subscription, places)
            yield from follower.replay()
            while not follower.ended and (deadline is None or time.monotonic() < deadline):
                wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                event = subscription.get(wait)
                yield from follower.after(event, subscription.take_queue_moved())

    async def aevents(
        self, task_id: str, after_seq: int = 0, heartbeat_s: float | None = None, places: bool = True
    ) -> AsyncIterator[TaskEvent | None]:
        """Async :meth:`events`; yields None when there was nothing to tell, at least every ``heartbeat_s``
        of silence (for SSE keep-alives). The store is read off the event loop."""
        subscription = self.bus.subscribe(task_id, queue_moves=places)
        try:
            follower = self._follower(task_id, after_seq, subscription, places)
            for stored in await asyncio.to_thread(follower.replay):
                yield stored
            while not follower.ended:
                event = await subscription.aget(heartbeat_s)
                moved = subscription.take_queue_moved()
                if follower.needs_store(event, moved):
                    ready = await asyncio.to_thread(follower.after, event, moved)
                else:
                    ready = follower.after(event, moved)
                for given in ready:
                    yield given
                if event is None and not ready:
                    yield None
        finally:
            subscription.close()

    def _follower(self, task_id: str, after_seq: int, subscription: Subscription, places: bool) -> Follower:
        return Follower(task_id, after_seq, subscription, self.store, self.places if places else None, self.starts)

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        """Block until the task reaches a terminal state (or ``timeout``); returns it."""
        for _ in self.events(task_id, timeout=timeout, places=False):
            pass
        return self.store.get(task_id)

    async def await_end(self, task_id: str) -> Task:
        """Async :meth:`wait`, for the server's blocking routes. A store that goes away meanwhile (a Redis restart)
        does not end the wait: it goes on from the last event seen once the store answers again, for up to
        ``STORE_OUTAGE_WAIT_S`` of outage (then StoreUnavailable), so the client gets its task's result instead of
        an error while the task completes anyway."""
        last, outage_since = 0, None
        while True:
            try:
                async for event in self.aevents(task_id, after_seq=last, places=False):
                    if event is not None:
                        last, outage_since = event.seq, None
                return await asyncio.to_thread(self.store.get, task_id)
            except StoreUnavailable:
                outage_since = outage_since if outage_since is not None else time.monotonic()
                if time.monotonic() - outage_since > STORE_OUTAGE_WAIT_S:
                    raise
                log.warning("the task store is away while a client waits for %s; waiting on", task_id)
                await asyncio.sleep(STORE_RETRY_S)
