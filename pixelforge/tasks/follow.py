"""Following one task's events: the stored ones after the watcher's last, then live ones from the bus, ending with
the terminal event, and while the task waits, its place in the queue each time it changed.

One implementation for both ways of waiting: ``Follower`` says what to give next, and ``TaskService.events`` (a
thread blocking on the bus) and ``TaskService.aevents`` (a coroutine awaiting it) only wait and hand on.

Queue places are computed, never stored: a task's one stored ``queued`` event tells its place when it was
submitted, and when the queue moves (a task starts or is cancelled) the bus wakes the watchers of queued tasks,
each of which tells its place (from one read of the queue per move, ``QueuePlaces``) as a live ``queued`` event
when it changed. So a queue move costs O(1) writes however long the queue is.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixelforge.tasks.bus import Subscription
from pixelforge.tasks.events import QueuedPayload, TaskEvent
from pixelforge.tasks.model import EventType
from pixelforge.tasks.queue_places import QueuePlaces
from pixelforge.tasks.start_times import StartTimes
from pixelforge.tasks.store import TaskStore


@dataclass
class QueuePlace:
    """What one watcher was last told of its task's place in the queue, so that it is told only changes."""

    waiting: bool
    told: tuple[int, int, float | None] | None = None

    def saw(self, event: TaskEvent) -> int:
        """Note an event the watcher is given; returns its sequence number."""
        if isinstance(event.data, QueuedPayload):
            self.told = (event.data.position, event.data.size, event.data.starts_in_s)
        else:
            self.waiting = False  # started or ended: the queue is behind it
        return event.seq


class Follower:
    """One watcher of a task: what it has been given (the last sequence number, the place it was told) and what it
    gets next. Its methods read the store only where :meth:`needs_store` says so."""

    def __init__(
        self,
        task_id: str,
        after_seq: int,
        subscription: Subscription,
        store: TaskStore,
        places: QueuePlaces | None,
        starts: StartTimes,
    ) -> None:
        """``places``: None when the watcher is not told the task's changes of place."""
        self.task_id = task_id
        self.last = after_seq
        self.place = QueuePlace(waiting=places is not None)
        self.ended = False  # the terminal event has been given
        self._subscription = subscription
        self._store = store
        self._places = places
        self._starts = starts

    def replay(self) -> list[TaskEvent]:
        """The stored events after the last one given, then the task's place now when it waits (reads the store)."""
        return self._given(self._store.events_since(self.task_id, self.last)) + self._place_now()

    def needs_store(self, event: TaskEvent | None, queue_moved: bool) -> bool:
        """Whether :meth:`after` reads the store: to fill a gap (or a lagged inbox), or to place the task after a
        queue move. The common case touches no store: the async stream then hands on at once, without a thread hop
        per event per watcher (which would dominate the push latency with hundreds of SSE watchers,
        server_bench.py)."""
        gap = self._subscription.lagged or (event is not None and event.seq > self.last + 1)
        return gap or (queue_moved and self.place.waiting)

    def after(self, event: TaskEvent | None, queue_moved: bool) -> list[TaskEvent]:
        """What to give once waiting on the bus returned ``event`` (None: nothing came) and, with ``queue_moved``,
        the queue moved meanwhile."""
        ready = self._given(self._in_order(event))
        if queue_moved and not self.ended:
            ready += self._place_now()
        return ready

    def _given(self, events: list[TaskEvent]) -> list[TaskEvent]:
        """``events`` up to the terminal one, noted as given."""
        given = []
        for event in events:
            self.last = self.place.saw(event)
            given.append(event)
            if event.type.is_terminal:
                self.ended = True
                break
        return given

    def _in_order(self, event: TaskEvent | None) -> list[TaskEvent]:
        """Events after the last one given, without gaps: a gap (or a lagged inbox) is filled from the store."""
        if self._subscription.lagged or (event is not None and event.seq > self.last + 1):
            self._subscription.lagged = False
            while self._subscription.get(0) is not None:  # drained: the store has all of them
                pass
            return self._store.events_since(self.task_id, self.last)
        if event is None or event.seq <= self.last:
            return []
        return [event]

    def _place_now(self) -> list[TaskEvent]:
        """A ``queued`` event with the task's place now, when it still waits and the watcher was told another.
        It is not stored (a queue move writes nothing per queued task): it carries the sequence number of the
        task's latest stored event, so a client that resumes from it misses nothing."""
        if not self.place.waiting or self._places is None:
            return []
        now = self._places.place(self.task_id)
        if now is None:
            self.place.waiting = False
            return []
        starts_in_s = self._starts.starts_in_s(self.task_id)
        if self.place.told == (*now, starts_in_s):
            return []
        self.place.told = (*now, starts_in_s)
        estimate = {} if starts_in_s is None else {"starts_in_s": starts_in_s}  # absent, not null, when unknown
        data = QueuedPayload(position=now[0], size=now[1], **estimate)
        return [TaskEvent(task_id=self.task_id, seq=self.last, type=EventType.QUEUED, data=data)]
