"""The stop-and-queue vocabulary (issue 29) on every TaskStore: the fixtures of ``test_store_contract.py``, so
that each verb runs on SQLite and on a real Redis alike."""

from __future__ import annotations

import test_store_contract as contract

from pixelforge.tasks.model import (
    EventType,
    StopRequest,
    Task,
    TaskEnd,
    TaskOrigin,
    TaskParams,
    TaskProgress,
    TaskState,
    new_task_id,
)
from pixelforge.tasks.store import TaskStore

# The fixtures every store runs under, and the helper that queues a task.
backend, store, add = contract.backend, contract.store, contract.add

AFTER_JOB = StopRequest(action="interrupt", when="after_job", at=1.0)


def test_a_stop_after_the_job_is_kept_until_the_end_and_a_plain_interrupt_replaces_it(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    running, event = store.request_stop(task.id, AFTER_JOB)
    assert running.state is TaskState.RUNNING and event is None and running.stop_request == AFTER_JOB
    store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=1))
    assert store.get(task.id).stop_request == AFTER_JOB  # unlike a skip, it outlives the job it was asked in
    store.request_stop(task.id, StopRequest(action="skip"))
    assert store.get(task.id).stop_request == AFTER_JOB  # a skip never downgrades it
    now = StopRequest(action="interrupt", at=2.0)
    store.request_stop(task.id, now)
    assert store.get(task.id).stop_request == now  # the second, plain interrupt stops at once
    store.request_stop(task.id, AFTER_JOB)
    assert store.get(task.id).stop_request == now  # and is never downgraded to "after the job"
    store.finish(task.id, TaskEnd(state=TaskState.INTERRUPTED, stop_reason="user"))
    assert store.get(task.id).stop_request is None


def test_a_stop_after_the_job_cancels_a_queued_task(store: TaskStore) -> None:
    task = add(store)
    cancelled, event = store.request_stop(task.id, AFTER_JOB)
    assert cancelled.state is TaskState.CANCELLED and event is not None and event.type is EventType.CANCELLED
    assert store.claim_next("w") is None


def test_cancel_queued_ends_one_owner_s_queue_in_one_write_and_leaves_the_running_task(store: TaskStore) -> None:
    running, a1, b1, a2 = add(store, "a"), add(store, "a"), add(store, "b"), add(store, "a")
    store.claim_next("w")
    events = store.cancel_queued("a")
    assert [(e.task_id, e.type, e.data) for e in events] == [
        (a1.id, EventType.CANCELLED, {"reason": "user"}), (a2.id, EventType.CANCELLED, {"reason": "user"})]
    assert [store.events_since(t.id)[-1] for t in (a1, a2)] == events  # stored, as replay gives them
    assert {store.get(t.id).state for t in (a1, a2)} == {TaskState.CANCELLED}
    assert store.get(running.id).state is TaskState.RUNNING
    assert store.queued_ids() == [b1.id] and store.get(b1.id).position == 1
    assert store.cancel_queued("a") == []
    assert [e.task_id for e in store.cancel_queued()] == [b1.id]  # everyone's
    assert store.claim_next("w") is None
    assert add(store, "a").position == 1  # the owner's slots are free again


def test_the_origin_of_a_task_is_kept(store: TaskStore) -> None:
    origin = TaskOrigin(random_seed=True, retried_from="task(old)", callback_url="http://127.0.0.1:9/done")
    task, _ = store.create(Task(id=new_task_id(), params=TaskParams(), origin=origin))
    assert store.get(task.id).origin == origin
    assert add(store).origin == TaskOrigin()
