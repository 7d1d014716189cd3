"""'Starts in ~': the queue played out over the workers from measured run times (issue 29)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks import start_times
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.model import ResolvedParams, Task, TaskEnd, TaskParams, TaskProgress, TaskState, TaskStats
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.start_times import JobCost, WorkKind, measured_costs, start_offsets


def _task(task_id: str, state: TaskState = TaskState.QUEUED, eta_s: float | None = None, **params) -> Task:
    return Task(id=task_id, state=state, params=TaskParams(**({"width": 32, "height": 32} | params)),
                progress=TaskProgress(eta_s=eta_s))


def _resolved(steps: int) -> ResolvedParams:
    return ResolvedParams(model="m", steps=steps, cfg_scale=1.0, width=32, height=32, seed=1, sampler_name="Euler",
                          prompt_used="p")


COSTS = {WorkKind(None, 32, 32, 1): JobCost(seconds=2.0, steps=10)}


def test_one_worker_runs_the_queue_one_after_another() -> None:
    running = [_task("r", TaskState.RUNNING, eta_s=3.0)]
    queued = [_task("a"), _task("b", batch_count=2), _task("c", steps=20)]
    assert start_offsets(running, queued, 1, COSTS) == {"a": 3.0, "b": 5.0, "c": 9.0}


def test_two_workers_each_take_the_next_task_when_free() -> None:
    running = [_task("r", TaskState.RUNNING, eta_s=3.0)]
    queued = [_task("a"), _task("b"), _task("c")]
    assert start_offsets(running, queued, 2, COSTS) == {"a": 0.0, "b": 2.0, "c": 3.0}


def test_work_nobody_measured_yet_has_no_estimate_nor_does_what_waits_behind_it() -> None:
    queued = [_task("a"), _task("b", width=64), _task("c")]
    assert start_offsets([], queued, 1, COSTS) == {"a": 0.0, "b": 2.0, "c": None}


def test_the_newest_completed_task_of_a_kind_is_its_measurement() -> None:
    newest = _task("n", TaskState.COMPLETED, batch_count=2)
    newest.stats, newest.resolved = TaskStats(total_s=8.0), _resolved(10)
    older = _task("o", TaskState.COMPLETED)
    older.stats, older.resolved = TaskStats(total_s=100.0), _resolved(10)
    failed = _task("f", TaskState.FAILED, width=64)
    failed.stats, failed.resolved = TaskStats(total_s=1.0), _resolved(10)
    assert measured_costs([newest, older, failed]) == {WorkKind(None, 32, 32, 1): JobCost(seconds=4.0, steps=10)}


def test_the_service_fills_in_starts_in_s_from_what_ran(tmp_path: Path) -> None:
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus())
    params = TaskParams(width=32, height=32, steps=10)
    done = service.submit(params)
    service.store.claim_next("w")
    assert service.get(service.submit(params).id).starts_in_s is None  # nothing measured yet
    service.finish(done.id, TaskEnd(state=TaskState.COMPLETED, stats=TaskStats(total_s=6.0), resolved=_resolved(10)))
    first, second = service.store.queued_ids()[0], service.submit(params).id
    assert service.get(first).starts_in_s == 0.0
    starts = service.get(second).starts_in_s
    assert starts is not None and 5.0 <= starts <= 6.0  # behind one 6 s task (counting down with the clock)
    assert [t.starts_in_s is not None for t in service.list(states=[TaskState.QUEUED])] == [True, True]


def test_only_the_head_of_a_long_queue_is_estimated_and_a_paused_queue_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start_times, "ESTIMATED_TASKS", 2)
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus())
    params = TaskParams(width=32, height=32, steps=10)
    done = service.submit(params)
    service.store.claim_next("w")
    service.finish(done.id, TaskEnd(state=TaskState.COMPLETED, stats=TaskStats(total_s=6.0), resolved=_resolved(10)))
    queued = [service.submit(params).id for _ in range(3)]
    service.bus.publish_queue_moved()
    assert [service.get(task_id).starts_in_s is not None for task_id in queued] == [True, True, False]
    service.store.set_paused(True)
    service.bus.publish_queue_moved()
    assert [service.get(task_id).starts_in_s for task_id in queued] == [None, None, None]


def test_estimates_follow_the_queue_s_order_when_newer_tasks_go_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start_times, "ESTIMATED_TASKS", 2)
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus())
    params = TaskParams(width=32, height=32, steps=10)
    done = service.submit(params, owner="a")
    service.store.claim_next("w")
    service.finish(done.id, TaskEnd(state=TaskState.COMPLETED, stats=TaskStats(total_s=6.0), resolved=_resolved(10)))
    a_tasks = [service.submit(params, owner="a").id for _ in range(2)]
    newcomer = service.submit(params, owner="b").id  # never served: first, though the newest
    assert service.store.queued_ids()[0] == newcomer
    service.bus.publish_queue_moved()
    assert service.get(newcomer).starts_in_s == 0.0
    starts = service.get(a_tasks[0]).starts_in_s
    assert starts is not None and 5.0 <= starts <= 6.0  # behind the newcomer's 6 s
    assert service.get(a_tasks[1]).starts_in_s is None  # beyond the estimated head of 2
