"""A terminal state is final, in every store (issue 26.1b): no transition leaves it, and no task's stream ever
carries two terminal events or anything after its terminal one. Run on every implementation through the contract
suite's fixtures."""

from __future__ import annotations

import pytest

from pixelforge.tasks.model import EventType, StopRequest, TaskEnd, TaskProgress, TaskState
from pixelforge.tasks.store import TaskEnded, TaskStore
from tests.tasks import test_store_contract as contract

# The contract suite's fixtures (every implementation) and helper.
backend, store, add = contract.backend, contract.store, contract.add

ENDS = {
    TaskState.COMPLETED: TaskEnd(state=TaskState.COMPLETED),
    TaskState.INTERRUPTED: TaskEnd(state=TaskState.INTERRUPTED, stop_reason="user"),
    TaskState.FAILED: TaskEnd(state=TaskState.FAILED, error="it broke"),
}


def _terminal_events(store: TaskStore, task_id: str) -> list[EventType]:
    return [e.type for e in store.events_since(task_id) if e.type.is_terminal]


@pytest.mark.parametrize("first", list(ENDS))
@pytest.mark.parametrize("second", list(ENDS))
def test_a_second_end_is_refused_and_the_first_stays(store: TaskStore, first: TaskState, second: TaskState) -> None:
    task = add(store)
    store.claim_next("w")
    store.finish(task.id, ENDS[first])
    events = store.events_since(task.id)
    with pytest.raises(TaskEnded, match="already ended"):
        store.finish(task.id, ENDS[second])
    after = store.get(task.id)
    assert after.state is first and after.error == ENDS[first].error
    assert store.events_since(task.id) == events
    assert _terminal_events(store, task.id) == [EventType(first.value)]


def test_a_cancelled_task_is_never_started_nor_ended_again(store: TaskStore) -> None:
    task = add(store)
    store.request_stop(task.id, StopRequest(action="interrupt"))
    assert store.claim_next("w") is None
    with pytest.raises(TaskEnded):
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    assert store.get(task.id).state is TaskState.CANCELLED
    assert _terminal_events(store, task.id) == [EventType.CANCELLED]


def test_nothing_is_appended_after_the_terminal_event(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    events = store.events_since(task.id)
    with pytest.raises(TaskEnded):  # a late step of a worker that does not know yet
        store.append_event(task.id, EventType.PROGRESS, {"step": 9}, TaskProgress(step=9))
    with pytest.raises(TaskEnded):
        store.append_event(task.id, EventType.FAILED, {"error": "late"})
    assert store.events_since(task.id) == events


def test_stop_requests_and_recovery_leave_an_ended_task_as_it_is(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    events = store.events_since(task.id)
    for action in ("interrupt", "skip"):
        after, event = store.request_stop(task.id, StopRequest(action=action))
        assert event is None and after.state is TaskState.COMPLETED and after.stop_request is None
    assert store.recover() == []
    assert store.events_since(task.id) == events
