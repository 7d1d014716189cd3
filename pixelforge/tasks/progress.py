"""Progress and ETA maths, free of any clock or framework so that it is exactly testable.

A1111 computes ``progress = job_no/job_count + step/steps/job_count`` and ``eta = elapsed/progress
- elapsed``. That clock includes model loading, weights every phase the same and never reaches 1.0.
Here the ETA is built from what was measured: the median time of denoising steps after the first
(the first carries warm-up), plus the decode time per remaining job (measured once a job has
decoded, else predicted as one step), and nothing for phases already behind us. A decode time measured
by an earlier task of the same model and size is used until this task has decoded. The bar still
uses A1111's step fraction (it moves evenly and users know it) but reaches 1.0 only on completion.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from pixelforge.tasks.model import Phase, TaskProgress

# The bar shows at most this before the task has really finished.
RUNNING_CAP = 0.99


def steps_that_run(steps: int, strength: float | None) -> int:
    """Denoising steps an img2img job runs at ``strength`` (None: txt2img, all of them), by diffusers' rule:
    the schedule starts at step ``int(steps - min(steps × strength, steps))``."""
    if strength is None:
        return steps
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    return steps - int(max(steps - min(steps * strength, steps), 0))


def step_fraction(job_no: int, job_count: int, step: int, steps: int) -> float:
    """A1111's formula, capped at 1."""
    if job_count <= 0:
        return 0.0
    within = step / steps if steps > 0 else 0.0
    return min(1.0, job_no / job_count + within / job_count)


@dataclass
class ProgressTracker:
    """Accumulates per-step and per-decode durations of one task and turns them into progress."""

    job_count: int  # 0: until stopped ('generate forever'): progress and ETA are the running job's
    steps: int
    step_durations: list[float] = field(default_factory=list)
    decode_durations: list[float] = field(default_factory=list)
    phase: Phase = Phase.LOAD
    job_no: int = 0
    step: int = 0
    # The decode time the same model and size took last time: a far better guess than one step.
    decode_prior_s: float | None = None
    # The task's number of this tracker's first job: a worker that runs one job of a task split over workers
    # tracks that job alone (job_count 1), whatever its number in the task.
    first_job: int = 0

    def start_job(self, job_no: int) -> None:
        self.job_no = job_no - self.first_job
        self.step = 0
        self.phase = Phase.ENCODE

    def record_step(self, step: int, duration_s: float) -> None:
        """``step`` is 1-based: the number of steps finished in the current job."""
        self.phase = Phase.DENOISE
        self.step = step
        self.step_durations.append(duration_s)

    def record_decode(self, duration_s: float) -> None:
        self.decode_durations.append(duration_s)

    def step_time(self) -> float | None:
        """Median step time, leaving out the very first step (it carries warm-up: on a cold run it is many
        times the others, and an ETA from it alone reads minutes for a run of seconds)."""
        measured = self.step_durations[1:]
        return statistics.median(measured) if measured else None

    def eta(self) -> float | None:
        step_time = self.step_time()
        if step_time is None:
            return None
        jobs_after = max(0, self.job_count - self.job_no - 1)  # none known after this one when forever
        remaining_steps = (self.steps - self.step) + jobs_after * self.steps
        if self.decode_durations:
            decode_time = statistics.median(self.decode_durations)
        else:
            decode_time = self.decode_prior_s if self.decode_prior_s is not None else step_time
        remaining_decodes = jobs_after + 1
        if self.phase is Phase.DECODE or self.phase is Phase.POSTPROCESS:
            remaining_decodes -= 1
        return max(0.0, remaining_steps * step_time + max(0, remaining_decodes) * decode_time)

    def snapshot(self, elapsed_s: float, textinfo: str = "") -> TaskProgress:
        if self.job_count:
            fraction = min(RUNNING_CAP, step_fraction(self.job_no, self.job_count, self.step, self.steps))
        else:  # no total: the bar is the running image's
            fraction = min(RUNNING_CAP, step_fraction(0, 1, self.step, self.steps))
        if not textinfo:
            textinfo = self.describe()
        return TaskProgress(
            phase=self.phase,
            job_no=self.job_no,
            job_count=self.job_count,
            step=self.step,
            steps=self.steps,
            progress=fraction,
            eta_s=self.eta(),
            elapsed_s=elapsed_s,
            textinfo=textinfo,
        )

    def describe(self) -> str:
        if self.phase is Phase.LOAD:
            return "Loading model…"
        if self.job_count == 0:
            job = f"Image {self.job_no + 1}, "
        else:
            job = f"Job {self.job_no + 1}/{self.job_count}, " if self.job_count > 1 else ""
        if self.phase is Phase.ENCODE:
            return f"{job}encoding prompt…"
        if self.phase is Phase.DECODE:
            return f"{job}decoding…"
        if self.phase is Phase.POSTPROCESS:
            return f"{job}post-processing…"
        return f"{job}step {self.step}/{self.steps}"

    def failed(self, elapsed_s: float, error: str) -> TaskProgress:
        """Where the task got to, saying it failed: never a stale 'Loading model…' or ETA."""
        progress = self.snapshot(elapsed_s, textinfo=f"Failed: {error}")
        progress.eta_s = None
        return progress

    def completed(self, elapsed_s: float) -> TaskProgress:
        return TaskProgress(
            phase=Phase.DONE,
            job_no=self.job_count,
            job_count=self.job_count,
            step=self.steps,
            steps=self.steps,
            progress=1.0,
            eta_s=0.0,
            elapsed_s=elapsed_s,
            textinfo="Done",
        )


def combined_progress(running: Mapping[int, TaskProgress], done: int, job_count: int, elapsed_s: float) -> TaskProgress:
    """The progress of a task whose jobs run on several workers at once, from each running job's own progress
    (a tracker of that one job: its ``progress`` is the job's fraction, its ``eta_s`` the job's time left).

    The bar is A1111's fraction over all jobs: finished jobs count whole, running ones by their fraction. The
    ETA is the longest running job's, plus the jobs nobody runs yet spread over as many workers as run now, each
    taking as long as the slowest running job's whole run (elapsed + left) so far."""
    fraction = min(RUNNING_CAP, (done + sum(p.progress for p in running.values())) / max(1, job_count))
    waiting = job_count - done - len(running)
    eta = None
    if running and all(p.eta_s is not None for p in running.values()):
        longest = max(p.eta_s or 0.0 for p in running.values())
        per_job = max(p.elapsed_s + (p.eta_s or 0.0) for p in running.values())
        eta = longest + math.ceil(max(0, waiting) / len(running)) * per_job
    first = running[min(running)] if running else None
    textinfo = f"Jobs: {done}/{job_count} done, {len(running)} running"
    if first is not None and first.phase is Phase.DENOISE:
        textinfo += f", step {first.step}/{first.steps}"
    return TaskProgress(
        phase=first.phase if first is not None else Phase.POSTPROCESS,
        job_no=done,
        job_count=job_count,
        step=first.step if first is not None else 0,
        steps=first.steps if first is not None else 0,
        progress=fraction,
        eta_s=eta,
        elapsed_s=elapsed_s,
        textinfo=textinfo,
    )


def queued_progress(position: int, size: int) -> TaskProgress:
    return TaskProgress(phase=Phase.QUEUED, textinfo=f"In queue: {position}/{size}")
