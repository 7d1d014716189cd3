"""One task's end from its jobs' ends (a batch split over workers): exact, no store."""

from __future__ import annotations

from pixelforge.tasks.job_ends import merge_job_ends, merge_stats
from pixelforge.tasks.model import Phase, TaskEnd, TaskProgress, TaskState, TaskStats


def stats(device: str, denoise_s: float, steps: int, step_s: float | None, rss: float | None) -> TaskStats:
    return TaskStats(device=device, total_s=denoise_s, phases_s={"denoise": denoise_s}, steps_run=steps,
                     step_time_s=step_s, peak_rss_mb=rss)


def completed(job_steps: int = 20, **fields: object) -> TaskEnd:
    progress = TaskProgress(phase=Phase.DONE, step=job_steps, steps=job_steps, progress=1.0)
    return TaskEnd(state=TaskState.COMPLETED, progress=progress, **fields)


def test_stats_add_the_work_keep_the_peaks_and_take_the_tasks_wall_clock_time() -> None:
    merged = merge_stats([stats("cpu", 2.0, 20, 0.1, 900.0), stats("cpu", 3.0, 20, 0.3, None),
                          stats("cuda:0", 1.0, 10, 0.2, 700.0)], total_s=3.5)
    assert merged == TaskStats(device="cpu, cuda:0", total_s=3.5, phases_s={"denoise": 6.0}, steps_run=50,
                               step_time_s=0.2, peak_rss_mb=900.0)
    assert merge_stats([], total_s=1.0) is None


def test_all_jobs_completed_or_skipped_complete_the_task_at_full_progress() -> None:
    end = merge_job_ends({0: completed(), 1: completed(stats=stats("cpu", 1.0, 20, 0.05, None))}, total_s=4.0)
    assert end.state is TaskState.COMPLETED and end.stats is not None and end.stats.steps_run == 20
    assert end.progress is not None and (end.progress.progress, end.progress.job_no, end.progress.steps) == (1.0, 2, 20)


def test_a_job_that_never_ran_or_was_interrupted_interrupts_the_task_with_the_first_reason() -> None:
    interrupted = TaskEnd(state=TaskState.INTERRUPTED, stop_reason="timeout")
    assert merge_job_ends({0: completed(), 1: interrupted, 2: None}, 1.0).stop_reason == "timeout"
    dropped = merge_job_ends({0: completed(), 1: None}, 1.0)
    assert (dropped.state, dropped.stop_reason, dropped.progress) == (TaskState.INTERRUPTED, "user", None)
    # the running jobs completed before they saw the interrupt (a timeout) that dropped the others
    assert merge_job_ends({0: completed(), 1: None}, 1.0, stop_reason="timeout").stop_reason == "timeout"


def test_a_failed_job_fails_the_task_with_its_error() -> None:
    failed = TaskEnd(state=TaskState.FAILED, error="out of memory")
    later = TaskEnd(state=TaskState.FAILED, error="device lost")
    end = merge_job_ends({0: TaskEnd(state=TaskState.INTERRUPTED), 1: failed, 2: later}, 1.0)
    assert (end.state, end.error) == (TaskState.FAILED, "out of memory")
