"""History limits per identity (issue 25.2), on every store through the contract suite's fixtures: one identity's
tasks never push out another's, and past the server-wide ceiling the identity holding the most loses first."""

from __future__ import annotations

from pixelforge.tasks.history import beyond_limits
from pixelforge.tasks.model import StopRequest, Task, TaskEnd, TaskState
from pixelforge.tasks.store import TaskStore
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
    newest_first = [("b5", "bob"), ("a2", "alice"), ("b4", "bob"), ("b3", "bob"), ("a1", "alice"), ("b2", "bob")]
    assert beyond_limits(newest_first, keep=3) == ["b2"]
    assert beyond_limits(newest_first, keep=3, keep_total=4) == ["b2", "b3"]
    # a tie in size: the owner whose oldest kept task finished first loses it
    assert beyond_limits(newest_first, keep=2, keep_total=3) == ["b3", "b2", "a1"]
    # more owners than the ceiling: the just-finished ("new") stays while older single ones go
    assert beyond_limits([("new", "x"), ("y1", "y"), ("z1", "z")], keep=1, keep_total=1) == ["z1", "y1"]
