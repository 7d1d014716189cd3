"""Watchers of queued tasks share one read of the queue per queue move (QueuePlaces)."""

from pathlib import Path

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.model import Task, TaskParams
from pixelforge.tasks.queue_places import QueuePlaces


class CountingStore(SQLiteTaskStore):
    """The SQLite store, counting the reads QueuePlaces makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = {"queued_ids": 0, "get": 0}

    def queued_ids(self, owner: str | None = None) -> list[str]:
        self.reads["queued_ids"] += 1
        return super().queued_ids(owner)

    def get(self, task_id: str) -> Task:
        self.reads["get"] += 1
        return super().get(task_id)


def queue(store: SQLiteTaskStore, *ids: str) -> None:
    for task_id in ids:
        store.create(Task(id=task_id, owner="alice", params=TaskParams(prompt=task_id)))


def test_one_read_of_the_queue_per_move_serves_every_watcher(tmp_path: Path) -> None:
    store, bus = CountingStore(tmp_path / "t.sqlite3"), InProcessBus()
    places = QueuePlaces(store, bus)
    queue(store, "a", "b", "c")
    assert [places.place(t) for t in "abc"] == [(1, 3), (2, 3), (3, 3)]
    assert store.reads == {"queued_ids": 1, "get": 0}

    store.claim_next("worker")
    bus.publish_queue_moved()
    assert [places.place(t) for t in "bc"] == [(1, 2), (2, 2)]
    assert store.reads == {"queued_ids": 2, "get": 0}
    assert places.place("a") is None  # started: no longer in the queue, as the store says


def test_a_task_queued_since_the_last_read_gets_its_place_from_the_store(tmp_path: Path) -> None:
    store, bus = CountingStore(tmp_path / "t.sqlite3"), InProcessBus()
    places = QueuePlaces(store, bus)
    queue(store, "a")
    assert places.place("a") == (1, 1)
    queue(store, "b")  # a submit is not a queue move: the snapshot does not have it
    assert places.place("b") == (2, 2)
    assert store.reads == {"queued_ids": 1, "get": 1}

