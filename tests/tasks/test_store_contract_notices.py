"""An end notice is claimed once per task, in every store: with several API servers following the same ends, the one
whose claim succeeds sends the notice, the others see False (run on every implementation through the contract
suite's fixtures)."""

from __future__ import annotations

from pixelforge.tasks.model import TaskEnd, TaskState
from pixelforge.tasks.store import TaskStore
from tests.tasks import test_store_contract as contract

# The contract suite's fixtures (every implementation) and helper.
backend, store, add = contract.backend, contract.store, contract.add


def test_a_notice_is_claimed_once(store: TaskStore) -> None:
    task, other = add(store), add(store)
    store.claim_next("w")
    store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    assert [store.claim_notice(task.id) for _ in range(3)] == [True, False, False]
    assert store.claim_notice(other.id) is True  # each task has its own
    assert store.claim_notice("never-was") is False
    assert store.get(task.id).state is TaskState.COMPLETED  # the claim changes nothing a reader sees
