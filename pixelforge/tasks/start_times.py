"""When each queued task is likely to start ("starts in ~1 min"), from what the queue's work has measured.

A task's expected run time comes from the last completed tasks of the same model and size (and batch size):
their seconds per job, scaled by the steps asked for; a running task's from its own ETA. The queue is then
played out over the workers, each free worker taking the next task in queue order (list scheduling), and a
task's start is when a worker would be free for it. One reading serves every watcher until the queue moves
(as ``QueuePlaces``); between moves the estimate counts down with the clock. A task whose work ahead cannot
be estimated (nothing of its kind has run yet) has no estimate: None, never a made-up number.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pixelforge.tasks.bus import EventBus
from pixelforge.tasks.model import Task, TaskParams, TaskState
from pixelforge.tasks.store import TaskStore

# Completed tasks read for the measurements: the newest of each kind are what the workers do now.
MEASURED_TASKS = 200
# Queued tasks estimated, from the head of the queue: a reading per queue move stays bounded with a queue of
# thousands (those further back are told "not known yet" until they come within reach).
ESTIMATED_TASKS = 200


@dataclass(frozen=True)
class WorkKind:
    """Tasks whose jobs cost the same: one model, one size, one batch size (the model's defaults as asked)."""

    model: str | None
    width: int | None
    height: int | None
    batch_size: int

    @classmethod
    def of(cls, params: TaskParams) -> WorkKind:
        return cls(params.model, params.width, params.height, params.batch_size)


@dataclass(frozen=True)
class JobCost:
    """Measured seconds of one job (loading, encoding, denoising, decoding) at ``steps`` steps."""

    seconds: float
    steps: int

    def of(self, params: TaskParams) -> float:
        per_job = self.seconds * (params.steps / self.steps if params.steps and self.steps else 1.0)
        return per_job * params.batch_count


def measured_costs(finished: list[Task]) -> dict[WorkKind, JobCost]:
    """Per kind of work, the newest completed task's seconds per job (``finished`` newest first)."""
    costs: dict[WorkKind, JobCost] = {}
    for task in finished:
        if task.state is not TaskState.COMPLETED or task.stats is None or task.resolved is None:
            continue
        costs.setdefault(WorkKind.of(task.params), JobCost(task.stats.total_s / task.params.batch_count,
                                                           task.resolved.steps))
    return costs


def expected_run_s(task: Task, costs: dict[WorkKind, JobCost]) -> float | None:
    """Seconds the task will run for (a running one: what is left of it); None when nothing like it ran yet."""
    if task.state is TaskState.RUNNING and task.progress.eta_s is not None:
        return task.progress.eta_s
    cost = costs.get(WorkKind.of(task.params))
    if cost is None:
        return None
    total = cost.of(task.params)
    if task.state is TaskState.RUNNING:
        return max(0.0, total - task.progress.elapsed_s)
    return total


def start_offsets(running: list[Task], queued: list[Task], workers: int,
                  costs: dict[WorkKind, JobCost]) -> dict[str, float | None]:
    """Seconds from now until each queued task (in queue order) starts, over ``workers`` workers: every worker is
    free when its running task ends, and takes the next queued task then. Unknown from the first task whose
    run (or that of a running task) cannot be estimated."""
    free: list[float] = []
    for task in running:
        left = expected_run_s(task, costs)
        if left is None:
            return dict.fromkeys((t.id for t in queued), None)
        free.append(left)
    free = sorted(free)[:max(1, workers)]
    free += [0.0] * (max(1, workers) - len(free))
    heapq.heapify(free)
    starts: dict[str, float | None] = {}
    for n, task in enumerate(queued):
        run = expected_run_s(task, costs)
        start = heapq.heappop(free)
        starts[task.id] = start
        if run is None:
            starts.update(dict.fromkeys((t.id for t in queued[n + 1:]), None))
            break
        heapq.heappush(free, start + run)
    return starts


class StartTimes:
    """``starts_in_s`` of queued tasks, computed once per queue move for every reader."""

    def __init__(self, store: TaskStore, bus: EventBus, workers: Callable[[], int]) -> None:
        self._store = store
        self._bus = bus
        self._workers = workers
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._read_at = 0.0
        self._starts: dict[str, float | None] = {}

    def starts_in_s(self, task_id: str) -> float | None:
        """Seconds until the queued task is likely to start; None when it cannot be estimated (or the queue is
        paused, or the task no longer waits)."""
        generation = self._bus.queue_generation
        with self._lock:  # watchers woken by one move wait for one reading instead of each making their own
            if generation != self._generation or task_id not in self._starts:
                self._starts, self._read_at = self._read(), time.monotonic()
                self._generation = generation
            start = self._starts.get(task_id)
            elapsed = time.monotonic() - self._read_at
        return None if start is None else round(max(0.0, start - elapsed), 1)

    def _read(self) -> dict[str, float | None]:
        store = self._store
        queued_ids = store.queued_ids()
        if store.is_paused():  # nothing starts until an admin resumes the queue
            return dict.fromkeys(queued_ids, None)
        # The head of the queue, as the store lists it: newest first, so the oldest are at the end. That is the
        # queue's head while it runs first in, first out; after a move, or with fair turns between identities, a
        # task of the head may be a newer one: then every queued task is read (at most max_queued_total).
        head = store.list(states=[TaskState.QUEUED], limit=ESTIMATED_TASKS,
                          offset=max(0, len(queued_ids) - ESTIMATED_TASKS))
        queued = {t.id: t for t in head}
        if any(task_id not in queued for task_id in queued_ids[:ESTIMATED_TASKS]):
            queued = {t.id: t for t in store.list(states=[TaskState.QUEUED], limit=len(queued_ids))}
        in_order = []
        for task_id in queued_ids[:ESTIMATED_TASKS]:
            if task_id not in queued:
                break
            in_order.append(queued[task_id])
        running = store.list(states=[TaskState.RUNNING], limit=max(1, self._workers()))
        costs = measured_costs(store.list(states=[TaskState.COMPLETED], limit=MEASURED_TASKS))
        return dict.fromkeys(queued_ids, None) | start_offsets(running, in_order, self._workers(), costs)
