"""The event bus: task events flow from workers to watchers, stop requests from the API to workers.

Publishing is thread-safe and never blocks (the denoising thread publishes). Subscribers read
either synchronously (CLI, Python API) or with ``await`` (the server's SSE streams). Events are
also kept in the TaskStore, so a subscriber that fell behind (``lagged``) or reconnected replays
from there; the bus only has to be fast, not durable.

Queue moves are a broadcast that carries nothing per task: when a task leaves the queue, every
subscriber that asked for them is woken once (however many moves happened meanwhile) and reads its
own task's place from the store. So a move costs one publish, never a write per queued task.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from pixelforge.tasks.events import TaskEvent
from pixelforge.tasks.model import EventType, StopRequest

ControlHandler = Callable[[str, StopRequest], None]

# A subscriber that falls this far behind stops receiving and must replay from the store.
SUBSCRIPTION_BUFFER = 2048


class Subscription:
    """A bounded inbox of events for one task (or for every task when ``task_id`` is None), and with
    ``queue_moves`` a flag raised by queue moves."""

    def __init__(
        self,
        task_id: str | None,
        on_close: Callable[[Subscription], None],
        types: frozenset[EventType] | None = None,
        queue_moves: bool = False,
    ) -> None:
        self.task_id = task_id
        self.types = types
        self.queue_moves = queue_moves
        self.lagged = False
        self._queue_moved = False
        self._items: deque[TaskEvent] = deque()
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_wakeup: asyncio.Event | None = None
        self._on_close = on_close
        self.closed = False

    def wants(self, event: TaskEvent) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        return self.task_id is None or self.task_id == event.task_id

    def deliver(self, event: TaskEvent) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._items) >= SUBSCRIPTION_BUFFER:
                self.lagged = True
                return
            self._items.append(event)
            self._wake()

    def notify_queue_moved(self) -> None:
        """Raise the queue-moved flag (moves coalesce: one flag for any number of them) and wake the reader."""
        with self._cond:
            if self.closed or not self.queue_moves:
                return
            self._queue_moved = True
            self._wake()

    def mark_lagged(self) -> None:
        """Events may have been missed: raise ``lagged`` and wake the reader, who replays from the store."""
        with self._cond:
            self.lagged = True
            self._wake()

    def take_queue_moved(self) -> bool:
        """Whether the queue moved since the last call; lowers the flag."""
        with self._cond:
            moved, self._queue_moved = self._queue_moved, False
            return moved

    def _wake(self) -> None:
        """Wake a synchronous and an async reader; called holding the lock."""
        self._cond.notify_all()
        loop, wakeup = self._loop, self._async_wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    def get(self, timeout: float | None = None) -> TaskEvent | None:
        """Next event, or None after ``timeout`` seconds, when closed, or when woken by a queue move."""
        with self._cond:
            if not self._items and not self.closed and not self._queue_moved:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    async def aget(self, timeout: float | None = None) -> TaskEvent | None:
        """Async counterpart of :meth:`get`; must always be awaited from the same event loop."""
        with self._cond:
            if self._async_wakeup is None:
                self._loop = asyncio.get_running_loop()
                self._async_wakeup = asyncio.Event()
            if self._items:
                return self._items.popleft()
            if self.closed or self._queue_moved:
                return None
            self._async_wakeup.clear()
        try:
            await asyncio.wait_for(self._async_wakeup.wait(), timeout)
        except TimeoutError:
            return None
        with self._cond:
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._wake()
        self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus(Protocol):
    def publish(self, event: TaskEvent) -> None: ...

    def publish_queue_moved(self) -> None:
        """A task left the queue (it started, or was cancelled): wake every subscriber that asked for queue
        moves. Carries nothing per task; they read the places anew (``queue_places.QueuePlaces``)."""
        ...

    @property
    def queue_generation(self) -> int:
        """How many queue moves this process has been told of, counted before the subscribers are woken:
        a reading of the queue's places taken at generation g is current until it changes."""
        ...

    def subscribe(
        self, task_id: str | None = None, types: frozenset[EventType] | None = None, queue_moves: bool = False
    ) -> Subscription:
        """Events of one task (or all), optionally only of the given types; with ``queue_moves``, the queue
        moves too (``Subscription.take_queue_moved``)."""
        ...

    def publish_control(self, task_id: str, request: StopRequest) -> None: ...

    def on_control(self, handler: ControlHandler) -> Callable[[], None]:
        """Register a handler for stop requests; returns a function that unregisters it."""
        ...

    def close(self) -> None: ...


class InProcessBus:
    """The bus for one process: the server and its worker threads share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._control_handlers: list[ControlHandler] = []
        self._queue_generation = 0

    def publish(self, event: TaskEvent) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if s.wants(event)]
        for subscription in targets:
            subscription.deliver(event)

    @property
    def queue_generation(self) -> int:
        return self._queue_generation

    def publish_queue_moved(self) -> None:
        with self._lock:
            self._queue_generation += 1
            targets = [s for s in self._subscriptions if s.queue_moves]
        for subscription in targets:
            subscription.notify_queue_moved()

    def subscribe(
        self, task_id: str | None = None, types: frozenset[EventType] | None = None, queue_moves: bool = False
    ) -> Subscription:
        subscription = Subscription(task_id, self._remove, types, queue_moves)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish_control(self, task_id: str, request: StopRequest) -> None:
        with self._lock:
            handlers = list(self._control_handlers)
        for handler in handlers:
            handler(task_id, request)

    def on_control(self, handler: ControlHandler) -> Callable[[], None]:
        with self._lock:
            self._control_handlers.append(handler)

        def unregister() -> None:
            with self._lock:
                if handler in self._control_handlers:
                    self._control_handlers.remove(handler)

        return unregister

    def lag_all(self) -> None:
        """Every subscriber may have missed events (a distributed bus lost its connection for a while):
        each replays from the store before it takes the next live one."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.mark_lagged()  # woken too: a reader with no timeout would otherwise wait forever

    def close(self) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()
