"""The queue's order on every TaskStore, SQLite and a real Redis alike: fair turns and fifo, checked against the
rule of ``pixelforge/tasks/queue_order.py``, and queue moves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.model import Task, TaskParams, TaskState, new_task_id
from pixelforge.tasks.queue_order import Queued, QueuePolicy, serving_order
from pixelforge.tasks.store import TaskNotQueued, TaskStore

MakeStore = Callable[[QueuePolicy], TaskStore]


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A store of the given policy, on the data of the first one made (as another process with that setting)."""
    made: list[TaskStore] = []
    namespace = f"test-{uuid.uuid4().hex}"

    def make(policy: QueuePolicy) -> TaskStore:
        if request.param == "sqlite":
            store: TaskStore = SQLiteTaskStore(tmp_path / "tasks.sqlite3", queue_policy=policy)
        else:
            store = RedisTaskStore(request.getfixturevalue("redis_server").url, namespace, queue_policy=policy)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def submit(store: TaskStore, *owners: str) -> dict[str, Task]:
    """Tasks of ``owners`` queued in that order, by name: 'a1', 'a2', 'b1' ...; each told the place the queue's
    order gives it."""
    named: dict[str, Task] = {}
    for owner in owners:
        task, event = store.create(Task(id=new_task_id(), owner=owner, params=TaskParams(prompt="p")))
        assert task.position == event.data["position"] == store.queued_ids().index(task.id) + 1
        named[f"{owner}{sum(n.startswith(owner) for n in named) + 1}"] = task
    return named


def claims(store: TaskStore, named: dict[str, Task]) -> list[str]:
    """Claim until the queue is empty, checking before each claim that the queue's places say what comes next;
    returns the names in claim order."""
    names = {task.id: name for name, task in named.items()}
    claimed = []
    while True:
        waiting = store.queued_ids()
        places = {store.get(task_id).position: task_id for task_id in waiting}
        assert [places[n] for n in range(1, len(waiting) + 1)] == waiting
        task = store.claim_next("w")
        if task is None:
            assert waiting == []
            return claimed
        assert task.id == waiting[0]  # the claim takes the first place, as the places said
        claimed.append(names[task.id])


def test_fair_serves_identities_round_robin_first_in_first_out_within_each(make_store: MakeStore) -> None:
    store = make_store("fair")
    named = submit(store, "a", "a", "a", "b", "b", "c")
    rule = serving_order([Queued(t.id, t.owner) for t in named.values()], {}, "fair")
    assert store.queued_ids() == rule
    assert claims(store, named) == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_fair_puts_an_identity_never_served_before_one_served_and_tells_the_queued_event(make_store: MakeStore) -> None:
    store = make_store("fair")
    named = submit(store, "a", "a", "a")
    store.claim_next("w")  # a1: a has had a turn
    task, event = store.create(Task(id="task(b1)", owner="b", params=named["a1"].params))
    assert task.position == 1 and event.data == {"position": 1, "size": 3}
    assert store.queued_ids() == [task.id, named["a2"].id, named["a3"].id]
    assert store.queued_ids("a") == [named["a2"].id, named["a3"].id]


def test_fifo_serves_in_submission_order_and_both_policies_read_one_queue(make_store: MakeStore) -> None:
    fifo = make_store("fifo")
    named = submit(fifo, "a", "a", "b")
    fair = make_store("fair")
    assert fair.queued_ids() == [named["a1"].id, named["b1"].id, named["a2"].id]
    assert claims(fifo, named) == ["a1", "a2", "b1"]


def test_a_move_reorders_the_owner_s_tasks_and_never_another_s(make_store: MakeStore) -> None:
    store = make_store("fifo")
    named = submit(store, "a", "b", "a", "b", "a")
    moved = store.move(named["a3"].id, "front")
    assert moved.state is TaskState.QUEUED and moved.position == 1
    order = [named[n].id for n in ("a3", "b1", "a1", "b2", "a2")]
    assert store.queued_ids() == order  # b's tasks keep their places
    assert store.move(named["a3"].id, "down").position == 3
    assert store.move(named["a1"].id, "back").position == 5
    assert store.move(named["b2"].id, "up").position == 2
    assert store.queued_ids() == [named[n].id for n in ("a3", "b2", "a2", "b1", "a1")]
    assert store.move(named["b2"].id, "up").position == 2  # already its owner's first: nothing changes


def test_a_move_keeps_the_fair_turns_and_claims_follow_it(make_store: MakeStore) -> None:
    store = make_store("fair")
    named = submit(store, "a", "a", "a", "b", "b")
    store.move(named["a3"].id, "front")
    store.move(named["b2"].id, "up")
    assert claims(store, named) == ["a3", "b2", "a1", "b1", "a2"]


def test_run_next_puts_the_task_first_for_everyone_and_gives_its_owner_the_next_turn(make_store: MakeStore) -> None:
    store = make_store("fair")
    named = submit(store, "a", "a", "b", "c", "c")
    assert store.move(named["c2"].id, "front", run_next=True).position == 1
    assert claims(store, named) == ["c2", "a1", "b1", "c1", "a2"]
    fifo = make_store("fifo")
    named = submit(fifo, "a", "b")
    assert fifo.move(named["b1"].id, "front", run_next=True).position == 1
    assert claims(fifo, named) == ["b1", "a1"]


def test_only_a_queued_task_moves(make_store: MakeStore) -> None:
    store = make_store("fair")
    named = submit(store, "a", "a")
    store.claim_next("w")
    with pytest.raises(TaskNotQueued, match="is running, not queued"):
        store.move(named["a1"].id, "back")
    assert store.queued_ids() == [named["a2"].id]
