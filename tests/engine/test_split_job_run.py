"""The runner given one job of a task whose batch runs on several workers (``Task.claim``): it runs that job alone,
numbers its images as in the whole batch, tracks that job's progress, and counts a timeout from the task's start.
The runner and the tiny pipeline are real; the context records what the runner hands it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.config import Settings
from pixelforge.engine.preview import PreviewEncoder
from pixelforge.engine.runner import TaskRunner
from pixelforge.tasks.model import ImageRef, JobClaim, Task, TaskParams, TaskProgress, TaskState
from pixelforge.tasks.stop import StopToken


class RecordingContext:
    def __init__(self, task: Task) -> None:
        self._task, self._stop = task, StopToken()
        self.progress: list[TaskProgress] = []
        self.images: list[ImageRef] = []

    @property
    def task(self) -> Task:
        return self._task

    @property
    def stop(self) -> StopToken:
        return self._stop

    def report_progress(self, progress: TaskProgress) -> None:
        self.progress.append(progress)

    def add_image(self, image: ImageRef) -> None:
        self.images.append(image)

    def add_preview(self, data: bytes, media_type: str) -> None:
        pass


@pytest.fixture
def runner(tmp_path: Path, tiny_qwen_dir: Path) -> Iterator[TaskRunner]:
    settings = Settings(data_dir=tmp_path / "data", model=str(tiny_qwen_dir), preview_every=0)
    encoder = PreviewEncoder()
    yield TaskRunner(DiffusersBackend(settings), settings, encoder)
    encoder.close()


def job_of(params: TaskParams, job_no: int, started_s_ago: float = 0.0) -> Task:
    return Task(id="task(split)", params=params, state=TaskState.RUNNING, started_at=time.time() - started_s_ago,
                claim=JobClaim(job_no=job_no, starts_task=False))


def test_one_job_runs_alone_with_its_images_numbered_as_in_the_whole_batch(runner: TaskRunner) -> None:
    params = TaskParams(prompt="x", steps=2, width=32, height=32, batch_count=3, batch_size=2, seed=10)
    context = RecordingContext(job_of(params, job_no=1))
    end = runner.run(context)
    assert end.state is TaskState.COMPLETED and end.sprite_sheet is None  # the last job's worker makes the sheet
    assert [(i.index, i.job_no, i.seed) for i in context.images] == [(2, 1, 12), (3, 1, 13)]
    assert {(p.job_no, p.job_count) for p in context.progress} == {(0, 1)}  # this job's own progress
    assert max(p.step for p in context.progress) == 2 and end.stats is not None and end.stats.steps_run == 2


def test_a_job_that_starts_after_the_tasks_timeout_has_passed_stops_before_it_runs(runner: TaskRunner) -> None:
    params = TaskParams(prompt="x", steps=2, width=32, height=32, batch_count=2, seed=1, timeout_s=30)
    context = RecordingContext(job_of(params, job_no=1, started_s_ago=60))
    end = runner.run(context)
    assert (end.state, end.stop_reason) == (TaskState.INTERRUPTED, "timeout")
    assert context.images == [] and end.stats is not None and end.stats.steps_run == 0
