"""The service's queue verbs (issue 29) over a real SQLite store and the in-process bus: retry and cancel many."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.files import InputFolder
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import EventType, TaskEnd, TaskLimits, TaskParams, TaskState
from pixelforge.tasks.service import NotRetryable, TaskService


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    inputs = InputFolder(tmp_path, tmp_path / "inputs")
    return TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), inputs=inputs)


def _ended(service: TaskService, params: TaskParams, state: TaskState = TaskState.FAILED, **kwargs) -> str:
    task = service.submit(params, **kwargs)
    service.store.claim_next("w")
    service.finish(task.id, TaskEnd(state=state, error="boom" if state is TaskState.FAILED else None))
    return task.id


def test_a_retry_of_a_random_seed_draws_a_new_one_and_a_chosen_seed_stays(service: TaskService) -> None:
    random = _ended(service, TaskParams(prompt="a cat", steps=3))
    chosen = _ended(service, TaskParams(prompt="a dog", seed=42), TaskState.INTERRUPTED)
    again = service.retry(random)
    assert again.id != random and again.origin.retried_from == random and again.state is TaskState.QUEUED
    assert again.params.prompt == "a cat" and again.params.steps == 3
    assert again.params.seed != service.get(random).params.seed and again.origin.random_seed
    kept = service.retry(chosen)
    assert kept.params.seed == 42 and not kept.origin.random_seed and kept.origin.retried_from == chosen


def test_only_failed_interrupted_or_cancelled_tasks_are_retried(service: TaskService) -> None:
    completed = _ended(service, TaskParams(), TaskState.COMPLETED)
    queued = service.submit(TaskParams())
    for task_id in (completed, queued.id):
        with pytest.raises(NotRetryable):
            service.retry(task_id)
    service.cancel(queued.id)
    assert service.retry(queued.id).origin.retried_from == queued.id


def test_a_retry_of_an_img2img_task_takes_its_stored_images_again(service: TaskService) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buffer, format="PNG")
    task_id = _ended(service, TaskParams(), images=ImageUpload(init_image=buffer.getvalue()))
    old, again = service.get(task_id), service.retry(task_id)
    assert again.type == "img2img" and again.inputs is not None and old.inputs is not None
    assert again.inputs.init_image != old.inputs.init_image  # its own copy: pruning one never breaks the other
    assert service.inputs is not None
    assert service.inputs.read(again.inputs) == service.inputs.read(old.inputs)


def test_cancel_queue_ends_the_callers_queue_and_with_running_too_what_runs(service: TaskService) -> None:
    running, mine, theirs, mine_too = (service.submit(TaskParams(), owner=o) for o in ("me", "me", "you", "me"))
    service.store.claim_next("w")
    with service.bus.subscribe(queue_moves=True) as watcher:
        assert service.cancel_queue("me") == [mine.id, mine_too.id]
        cancelled = [watcher.get(1), watcher.get(1)]
        assert [(e.task_id, e.type) for e in cancelled if e] == [(mine.id, EventType.CANCELLED),
                                                                  (mine_too.id, EventType.CANCELLED)]
        assert watcher.take_queue_moved()
    assert service.get(running.id).stop_request is None  # 'all but the current'
    assert service.cancel_queue("me", running_too=True) == [running.id]
    request = service.get(running.id).stop_request
    assert request is not None and request.action == "interrupt" and request.when == "now"
    assert service.store.queued_ids() == [theirs.id]
    assert service.cancel_queue(None) == [theirs.id]


def test_the_images_of_one_task_are_bounded_by_a_setting_the_error_names() -> None:
    limits = TaskLimits(max_images_per_task=4)
    assert [str(p) for p in limits.violations(TaskParams(batch_count=3, batch_size=2))] == [
        "batch_count: at most the server's max_images_per_task (4) images per task, got 3 × 2"]
    assert limits.violations(TaskParams(batch_count=0, batch_size=2)) == []  # forever: ends at the limit
    assert [p.field for p in TaskLimits(max_images_per_task=2).violations(TaskParams(batch_size=3))] == ["batch_size"]
