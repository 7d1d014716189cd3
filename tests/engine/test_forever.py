"""'Generate forever' (batch_count 0): jobs go on with nobody watching until a stop, or the server's image limit.

Stopped from inside the work (after the k-th decode of the real tiny pipeline), never by a clock."""

from __future__ import annotations

from typing import Any

from pixelforge.runtime import Runtime
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.testing.hooks import Calls


def _params(**overrides: Any) -> TaskParams:
    return TaskParams(**({"prompt": "a knight", "steps": 2, "width": 32, "height": 32, "seed": 7, "batch_count": 0}
                         | overrides))


def _pipe(runtime: Runtime) -> Any:
    return runtime.workers[0].backend.load(runtime.settings.model, None, 1.0).pipe


def test_a_forever_task_runs_image_after_image_until_stopped_after_the_k_th(make_runtime) -> None:
    runtime = make_runtime(start=False)
    task_ids: list[str] = []
    Calls(_pipe(runtime).vae.decoder, at=3, action=lambda: runtime.service.interrupt(task_ids[0], when="after_job"))
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)  # and nobody watches it
    finished = runtime.service.wait(task_ids[0], timeout=120)
    assert finished.state is TaskState.INTERRUPTED and finished.stop_reason == "user"
    assert [(i.job_no, i.seed, i.partial) for i in finished.images] == [(0, 7, False), (1, 8, False), (2, 9, False)]
    progress = [e.data for e in runtime.service.store.events_since(task_ids[0]) if e.type is EventType.PROGRESS]
    assert {p["job_count"] for p in progress} == {0}  # image k, no total
    assert any(p["textinfo"].startswith("Image 3, ") for p in progress)
    assert all(p["progress"] <= 0.99 for p in progress)


def test_a_skip_moves_a_forever_task_on_to_the_next_image(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe, task_ids = _pipe(runtime), []
    Calls(pipe.transformer, at=1, action=lambda: runtime.service.skip(task_ids[0]))
    Calls(pipe.vae.decoder, at=1, action=lambda: runtime.service.interrupt(task_ids[0], when="after_job"))
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)
    finished = runtime.service.wait(task_ids[0], timeout=120)
    assert [(i.job_no, i.seed) for i in finished.images] == [(1, 8)]  # image 1 skipped, image 2 kept, then stopped


def test_a_forever_task_ends_at_the_server_s_image_limit(make_runtime) -> None:
    runtime = make_runtime(max_images_per_task=4)
    task = runtime.service.submit(_params(batch_size=2))
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.INTERRUPTED and finished.stop_reason == "image-limit"
    assert len(finished.images) == 4
    assert "max_images_per_task" in finished.progress.textinfo
