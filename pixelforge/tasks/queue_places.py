"""The queue's places, read once per queue move for every watcher of a queued task.

A watcher of a queued task is told its place each time the queue moves. Read with ``TaskStore.get``,
that is one store read per watcher per move: with 200 watchers at 1,000 queued, every move held the
store for 200 reads and the next DELETE waited behind them (``benchmarks/queue_bench.py``). One read of
the queue's order per move serves them all; the bus's ``queue_generation`` says when it is out of date.
"""

from __future__ import annotations

import threading

from pixelforge.tasks.bus import EventBus
from pixelforge.tasks.store import TaskStore


class QueuePlaces:
    def __init__(self, store: TaskStore, bus: EventBus) -> None:
        self._store = store
        self._bus = bus
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._places: dict[str, tuple[int, int]] = {}

    def place(self, task_id: str) -> tuple[int, int] | None:
        """(position, queue size) of a queued task; None when it no longer waits."""
        generation = self._bus.queue_generation
        with self._lock:  # watchers woken by one move wait for one read instead of each making their own
            if generation != self._generation:
                order = self._store.queued_ids()
                self._places = {queued: (n, len(order)) for n, queued in enumerate(order, 1)}
                self._generation = generation
            place = self._places.get(task_id)
        if place is not None:
            return place
        # Not in the snapshot: submitted since it was read, or no longer queued. The store knows which.
        task = self._store.get(task_id)
        return None if task.position is None or task.queue_size is None else (task.position, task.queue_size)
