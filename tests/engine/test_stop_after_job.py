"""'Stop after this image': reached from inside the work itself (a job held inside its first step), never by a
clock. The held job finishes and is kept, no further job starts; a second, plain interrupt stops at once."""

from __future__ import annotations

import threading
from typing import Any

from pixelforge.runtime import Runtime
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.testing.hooks import HOLD_LIMIT_S, Calls, Hold

STEPS = 3


def _params(**overrides: Any) -> TaskParams:
    return TaskParams(**({"prompt": "a knight", "steps": STEPS, "width": 32, "height": 32, "seed": 7} | overrides))


def _held_in_the_first_step(runtime: Runtime) -> tuple[Hold, threading.Event, Calls]:
    """A hold on the denoiser's first forward (job 0, step 1) until the test releases it, and the VAE decodes."""
    pipe = runtime.workers[0].backend.load(runtime.settings.model, None, 1.0).pipe
    release = threading.Event()
    return Hold(pipe.transformer, when=lambda: True, until=release.wait), release, Calls(pipe.vae.decoder)


def test_stop_after_the_job_keeps_the_running_job_s_image_and_starts_no_next_job(make_runtime) -> None:
    runtime = make_runtime(start=False)
    hold, release, decodes = _held_in_the_first_step(runtime)
    runtime.start()
    task = runtime.service.submit(_params(batch_count=3))
    assert hold.reached.wait(HOLD_LIMIT_S)
    asked = runtime.service.interrupt(task.id, when="after_job")
    assert asked.state is TaskState.RUNNING
    assert asked.stop_request is not None and asked.stop_request.when == "after_job" and asked.stop_request.at
    release.set()
    finished = runtime.service.wait(task.id, timeout=60)
    assert finished.state is TaskState.INTERRUPTED and finished.stop_reason == "user"
    assert [(i.job_no, i.partial) for i in finished.images] == [(0, False)]  # the held job's image, whole
    assert decodes.count == 1  # no next job was started
    assert finished.stop_request is None
    types = [e.type for e in runtime.service.store.events_since(task.id)]
    assert types.count(EventType.IMAGE) == 1 and types[-1] is EventType.INTERRUPTED


def test_a_plain_interrupt_after_a_stop_after_the_job_stops_at_once(make_runtime) -> None:
    runtime = make_runtime(start=False)
    hold, release, decodes = _held_in_the_first_step(runtime)
    runtime.start()
    task = runtime.service.submit(_params(batch_count=3))
    assert hold.reached.wait(HOLD_LIMIT_S)
    runtime.service.interrupt(task.id, when="after_job")
    now = runtime.service.interrupt(task.id)
    assert now.stop_request is not None and now.stop_request.when == "now"
    release.set()
    finished = runtime.service.wait(task.id, timeout=60)
    assert finished.state is TaskState.INTERRUPTED and finished.images == []  # the held job was cut short
    assert decodes.count == 0


def test_a_stop_after_the_last_job_lets_the_task_complete(make_runtime) -> None:
    runtime = make_runtime(start=False)
    hold, release, _ = _held_in_the_first_step(runtime)
    runtime.start()
    task = runtime.service.submit(_params(batch_count=1, batch_size=2))
    assert hold.reached.wait(HOLD_LIMIT_S)
    runtime.service.interrupt(task.id, when="after_job")
    release.set()
    finished = runtime.service.wait(task.id, timeout=60)
    assert finished.state is TaskState.COMPLETED and len(finished.images) == 2  # nothing was left to stop
