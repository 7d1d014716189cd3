"""History limits per identity (issue 25.2), on every store through the contract suite's fixtures: one identity's
tasks never push out another's, and past the server-wide ceiling the identity holding the most loses first."""

from __future__ import annotations

import uuid

import pytest

from pixelforge.tasks.history import HeldTask, beyond_limits
from pixelforge.tasks.model import (
    StopRequest,
    Task,
    TaskEnd,
    TaskInputs,
    TaskLimits,
    TaskParams,
    TaskState,
    new_task_id,
)
from pixelforge.tasks.store import QueueFull, TaskStore
from tests.tasks import test_store_contract as contract

# The contract suite's fixtures (every implementation) and helper.
backend, store, add = contract.backend, contract.store, contract.add


def _finished(store: TaskStore, owner: str, count: int) -> list[Task]:
    tasks = []
    for _ in range(count):
        task = add(store, owner)
        claimed = store.claim_next("w")
        assert claimed is not None and claimed.id == task.id
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
        tasks.append(task)
    return tasks


def test_one_identity_s_tasks_never_prune_another_s(store: TaskStore) -> None:
    alice = _finished(store, "alice", 3)
    bob = [add(store, "bob") for _ in range(6)]  # the attack: submit, cancel, let one finish
    for task in bob[:5]:
        store.request_stop(task.id, StopRequest(action="interrupt"))
    store.claim_next("w")
    store.finish(bob[5].id, TaskEnd(state=TaskState.COMPLETED))
    pruned = store.prune(keep=3)
    assert {t.id for t in pruned} == {t.id for t in bob[:3]}  # bob's oldest ends, none of alice's
    assert all(store.get(t.id).state is TaskState.COMPLETED for t in alice)
    assert store.count(owner="bob") == 3


def test_past_the_ceiling_the_identity_holding_the_most_is_pruned_first(store: TaskStore) -> None:
    alice = _finished(store, "alice", 2)
    bob = _finished(store, "bob", 5)
    carol = _finished(store, "carol", 1)
    pruned = store.prune(keep=10, keep_total=6)
    assert {t.id for t in pruned} == {t.id for t in bob[:2]}  # bob's two oldest: bob keeps 3, alice 2, carol 1
    assert store.count(owner="alice") == 2 and store.count(owner="carol") == 1
    assert store.get(carol[0].id).state is TaskState.COMPLETED
    assert store.prune(keep=10, keep_total=6) == []
    assert {t.id for t in store.prune(keep=10, keep_total=4)} == {bob[2].id, alice[0].id}


def test_beyond_limits_keeps_each_owner_s_latest_and_evens_out_the_largest() -> None:
    newest_first = [HeldTask(task_id, owner) for task_id, owner in
                    [("b5", "bob"), ("a2", "alice"), ("b4", "bob"), ("b3", "bob"), ("a1", "alice"), ("b2", "bob")]]
    assert beyond_limits(newest_first, keep=3) == ["b2"]
    assert beyond_limits(newest_first, keep=3, keep_total=4) == ["b2", "b3"]
    # a tie in size: the owner whose oldest kept task finished first loses it
    assert beyond_limits(newest_first, keep=2, keep_total=3) == ["b3", "b2", "a1"]
    # more owners than the ceiling: the just-finished ("new") stays while older single ones go
    single = [HeldTask("new", "x"), HeldTask("y1", "y"), HeldTask("z1", "z")]
    assert beyond_limits(single, keep=1, keep_total=1) == ["z1", "y1"]
    # input bytes per owner: the newest that fit are kept; the latest is kept even when it alone is over
    sized = [HeldTask("c3", "carol", 60), HeldTask("c2", "carol", 50), HeldTask("c1", "carol", 10)]
    assert beyond_limits(sized, keep=10, keep_bytes=70) == ["c2"]
    assert beyond_limits(sized, keep=10, keep_bytes=40) == ["c2", "c1"]
    assert beyond_limits([HeldTask("big", "d", 500)], keep=10, keep_bytes=40) == []


def _with_inputs(store: TaskStore, owner: str, size: int, limits: TaskLimits) -> Task:
    task = Task(id=new_task_id("img2img"), type="img2img", owner=owner, params=TaskParams(prompt="p"),
                inputs=TaskInputs(init_image=f"images/inputs/{uuid.uuid4().hex}-init.png", bytes=size))
    return store.create(task, limits)[0]


def test_the_input_bytes_of_an_identity_s_active_tasks_are_capped(store: TaskStore) -> None:
    limits = TaskLimits(max_input_bytes_per_identity=100)
    first = _with_inputs(store, "alice", 60, limits)
    with pytest.raises(QueueFull, match="input images would take more than"):
        _with_inputs(store, "alice", 50, limits)
    assert store.count(owner="alice") == 1  # nothing stored of the refused one
    _with_inputs(store, "bob", 90, limits)  # another identity's room is its own
    _with_inputs(store, "alice", 40, limits)  # what fits still does
    store.claim_next("w")
    store.finish(first.id, TaskEnd(state=TaskState.COMPLETED))  # an ended task's inputs are the history's
    _with_inputs(store, "alice", 55, limits)


def test_the_history_keeps_an_identity_s_inputs_within_its_bytes(store: TaskStore) -> None:
    limits = TaskLimits(max_input_bytes_per_identity=1000)
    tasks = [_with_inputs(store, "alice", 40, limits) for _ in range(3)]
    for task in tasks:
        store.claim_next("w")
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    assert [t.id for t in store.prune(keep=10, keep_bytes=80)] == [tasks[0].id]
    assert store.prune(keep=10, keep_bytes=80) == []
