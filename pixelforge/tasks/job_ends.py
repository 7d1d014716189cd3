"""One task's end from the ends of its jobs, when its batch's jobs ran on several workers at once.

Pure: the store hands over what each job reported (None for a job that never ran: it was dropped by an
interrupt or by another job's failure) and the worker that reported the last one stores the result.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from pixelforge.tasks.model import TaskEnd, TaskState, TaskStats
from pixelforge.tasks.progress import ProgressTracker


def merge_stats(stats: list[TaskStats], total_s: float) -> TaskStats | None:
    """Phases and steps add up (work done on all workers), peaks are the highest of any worker, the time is
    the task's wall-clock time."""
    if not stats:
        return None
    phases: dict[str, float] = {}
    for one in stats:
        for phase, seconds in one.phases_s.items():
            phases[phase] = phases.get(phase, 0.0) + seconds
    step_times = [s.step_time_s for s in stats if s.step_time_s is not None]

    def peak(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return max(known) if known else None

    return TaskStats(
        device=", ".join(dict.fromkeys(s.device for s in stats)),
        total_s=total_s,
        phases_s=phases,
        steps_run=sum(s.steps_run for s in stats),
        step_time_s=statistics.median(step_times) if step_times else None,
        peak_vram_allocated_mb=peak([s.peak_vram_allocated_mb for s in stats]),
        peak_vram_reserved_mb=peak([s.peak_vram_reserved_mb for s in stats]),
        peak_rss_mb=peak([s.peak_rss_mb for s in stats]),
    )


def merge_job_ends(ends: Mapping[int, TaskEnd | None], total_s: float, stop_reason: str = "user") -> TaskEnd:
    """Failed if a job failed (with the first failed job's error); interrupted if a job was interrupted or never
    ran (with the first interrupted job's reason, else ``stop_reason``: that of the interrupt that dropped jobs
    while the running ones completed); else completed. Skipped jobs completed: a skip ends a job, not the task."""
    reported = [ends[job] for job in sorted(ends) if ends[job] is not None]
    failed = [end for end in reported if end is not None and end.state is TaskState.FAILED]
    interrupted = [end for end in reported if end is not None and end.state is TaskState.INTERRUPTED]
    resolved = next((end.resolved for end in reported if end is not None and end.resolved is not None), None)
    stats = merge_stats([end.stats for end in reported if end is not None and end.stats is not None], total_s)
    if failed:
        return TaskEnd(state=TaskState.FAILED, error=failed[0].error, resolved=resolved, stats=stats)
    if interrupted or len(reported) < len(ends):
        reason = interrupted[0].stop_reason if interrupted else None
        return TaskEnd(state=TaskState.INTERRUPTED, stop_reason=reason or stop_reason, resolved=resolved, stats=stats)
    job_count = len(ends)
    steps = max((end.progress.steps for end in reported if end is not None and end.progress), default=0)
    done = ProgressTracker(job_count=job_count, steps=steps).completed(total_s)
    return TaskEnd(state=TaskState.COMPLETED, progress=done, resolved=resolved, stats=stats)
