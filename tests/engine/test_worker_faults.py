"""A worker never dies silently: a failure around a task fails that task and the worker goes on; a
device this machine lacks is refused at start-up."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest

from pixelforge.cli import main
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.testing.hooks import Hold, denoiser

SMALL = {"prompt": "x", "steps": 2, "width": 32, "height": 32}


def test_a_store_failure_at_the_end_fails_the_task_and_the_worker_goes_on(make_runtime) -> None:
    runtime = make_runtime(start=False, preview_every=0)
    store, original_finish = runtime.store, runtime.store.finish
    failures: list[str] = []

    def finish_once_disk_full(task_id: str, end: Any) -> Any:
        if not failures:
            failures.append(task_id)
            raise sqlite3.OperationalError("database or disk is full")
        return original_finish(task_id, end)

    store.finish = finish_once_disk_full
    first = runtime.service.submit(TaskParams(**SMALL))
    second = runtime.service.submit(TaskParams(**SMALL))
    runtime.start()
    assert runtime.service.wait(second.id, timeout=120).state is TaskState.COMPLETED
    failed = runtime.service.wait(first.id, timeout=10)
    assert failed.state is TaskState.FAILED and "database or disk is full" in (failed.error or "")
    health = runtime.worker_health()[0]
    assert health.alive and "database or disk is full" in (health.last_error or "")


def test_health_tells_a_stuck_and_a_dead_worker(make_runtime) -> None:
    runtime = make_runtime(start=False, worker_stuck_s=1e-9)
    task = runtime.service.submit(TaskParams(**SMALL))
    release = threading.Event()
    hold = Hold(denoiser(runtime), when=lambda: True, until=release.wait)
    runtime.start()
    try:
        assert hold.reached.wait(60)
        held = runtime.worker_health()[0]
        assert held.alive and held.task_id == task.id and held.stuck  # no progress for longer than allowed
    finally:
        release.set()
        hold.remove()
    assert runtime.service.wait(task.id, timeout=120).state is TaskState.COMPLETED
    runtime.workers[0].stop()  # the worker's thread ends while the runtime goes on
    assert runtime.worker_health()[0].alive is False


@pytest.mark.parametrize("command", [["generate", "x", "--local"], ["serve", "--port", "1"]])
@pytest.mark.parametrize(("device", "says"), [("cuda:99", "is not available"), ("tpu", "unknown device")])
def test_a_device_this_machine_lacks_is_a_clear_start_up_error(
    command: list[str], device: str, says: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*command, "--device", device, "--data-dir" if command[0] == "serve" else "--out", str(tmp_path)])
    assert code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and device in message and says in message
