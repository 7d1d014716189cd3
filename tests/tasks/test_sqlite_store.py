from pathlib import Path

import pytest

from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    StopRequest,
    Task,
    TaskParams,
    TaskState,
    new_task_id,
)
from pixelforge.tasks.sqlite_store import SQLiteTaskStore
from pixelforge.tasks.store import TaskExists, TaskNotFound


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTaskStore:
    return SQLiteTaskStore(tmp_path / "tasks.sqlite3")


def add(store: SQLiteTaskStore, owner: str = "local") -> Task:
    return store.create(Task(id=new_task_id(), owner=owner, params=TaskParams(prompt="p")))


def test_ids_are_a1111_shaped_and_unguessable() -> None:
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("task(txt2img-") and i.endswith(")") and len(i) == len("task(txt2img-)") + 16 for i in ids)


def test_fifo_claims_and_queue_positions(store: SQLiteTaskStore) -> None:
    first, second, third = add(store), add(store), add(store)
    assert [store.get(t.id).position for t in (first, second, third)] == [1, 2, 3]
    assert store.get(third.id).queue_size == 3
    claimed = store.claim_next("w")
    assert claimed is not None and claimed.id == first.id and claimed.state is TaskState.RUNNING
    assert store.get(first.id).position is None
    assert store.get(third.id).position == 2
    assert store.queued_ids() == [second.id, third.id]


def test_duplicate_and_unknown_ids_are_errors(store: SQLiteTaskStore) -> None:
    task = add(store)
    with pytest.raises(TaskExists):
        store.create(Task(id=task.id, params=TaskParams()))
    with pytest.raises(TaskNotFound, match="unknown task id"):
        store.get("task(nope)")


def test_cancel_only_while_queued(store: SQLiteTaskStore) -> None:
    running, queued = add(store), add(store)
    store.claim_next("w")
    assert store.cancel_if_queued(running.id) is False
    assert store.cancel_if_queued(queued.id) is True
    assert store.get(queued.id).state is TaskState.CANCELLED
    assert store.claim_next("w") is None


def test_a_skip_never_downgrades_an_interrupt_and_is_cleared_per_job(store: SQLiteTaskStore) -> None:
    task = add(store)
    store.record_stop_request(task.id, StopRequest(action="skip"))
    store.clear_skip(task.id)
    assert store.get(task.id).stop_request is None
    store.record_stop_request(task.id, StopRequest(action="interrupt", keep_partial=True))
    store.record_stop_request(task.id, StopRequest(action="skip"))
    store.clear_skip(task.id)
    request = store.get(task.id).stop_request
    assert request is not None and request.action == "interrupt" and request.keep_partial


def test_events_get_per_task_sequence_numbers(store: SQLiteTaskStore) -> None:
    a, b = add(store), add(store)
    store.append_event(a.id, EventType.QUEUED, {"position": 1})
    store.append_event(b.id, EventType.QUEUED, {})
    store.append_event(a.id, EventType.STARTED, {})
    assert [(e.seq, e.type) for e in store.events_since(a.id)] == [(1, EventType.QUEUED), (2, EventType.STARTED)]
    assert [e.seq for e in store.events_since(a.id, after_seq=1)] == [2]
    assert store.events_since(a.id)[0].data == {"position": 1}


def test_recovery_interrupts_running_tasks_and_keeps_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite3"
    store = SQLiteTaskStore(path)
    running, queued = add(store), add(store)
    store.claim_next("w")
    store.add_image(running.id, ImageRef(index=0, job_no=0, seed=1, path="images/a.png", width=8, height=8))
    store.close()
    reopened = SQLiteTaskStore(path)  # as after a crash
    assert reopened.recover() == [running.id]
    after = reopened.get(running.id)
    assert after.state is TaskState.INTERRUPTED and after.stop_reason == "restart"
    assert "stopped while this task was running" in (after.error or "")
    assert len(after.images) == 1  # finished images survive the crash
    assert reopened.get(queued.id).state is TaskState.QUEUED


def test_history_is_bounded_and_the_queue_is_never_pruned(store: SQLiteTaskStore) -> None:
    finished = [add(store) for _ in range(5)]
    for task in finished:
        store.claim_next("w")
        store.finish(task.id, TaskState.COMPLETED)
    queued = add(store)
    pruned = store.prune(keep=2)
    assert {t.id for t in pruned} == {t.id for t in finished[:3]}
    assert store.count() == 3
    assert store.get(queued.id).state is TaskState.QUEUED


def test_pause_stops_claims(store: SQLiteTaskStore) -> None:
    add(store)
    store.set_paused(True)
    assert store.is_paused() and store.claim_next("w") is None
    store.set_paused(False)
    assert store.claim_next("w") is not None


def test_only_the_newest_previews_are_kept(store: SQLiteTaskStore) -> None:
    task = add(store)
    for preview_id in range(1, 6):
        store.put_preview(task.id, preview_id, bytes([preview_id]), "image/png")
    assert store.get_preview(task.id) == (5, b"\x05", "image/png")
    assert store.get_preview(task.id, 1) is None
    assert store.get_preview(task.id, 3) == (3, b"\x03", "image/png")
