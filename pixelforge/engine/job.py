"""One job: a single model run under the task's stop control, and how it ended.

A job ends ``Completed`` (its images, decoded), ``Skipped`` (a skip ended it: the task goes on) or
``Stopped`` (an interrupt ended it). Either stop's ``partial`` holds the images decoded from the
current estimate when the stop asked to keep them, else nothing. The task's loop (``runner.py``) decides what each
means for the task; nothing here writes anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from PIL import Image

from pixelforge.backends.base import JobRequest, LoadedModel
from pixelforge.engine.control import StepControl, StopHooks, StopRequested
from pixelforge.engine.stats import StatsRecorder
from pixelforge.tasks.model import Phase


@dataclass(frozen=True)
class Completed:
    images: list[Image.Image]
    decode_s: float


@dataclass(frozen=True)
class Skipped:
    partial: list[Image.Image] = field(default_factory=list)


@dataclass(frozen=True)
class Stopped:
    partial: list[Image.Image] = field(default_factory=list)


JobOutcome = Completed | Skipped | Stopped


def run_job(
    model: LoadedModel,
    job: JobRequest,
    control: StepControl,
    stats: StatsRecorder,
    runahead_blocks: int,
) -> JobOutcome:
    """Run ``job`` on ``model`` with ``control`` as its step callback and block-level stop hooks
    installed; the hooks are removed whatever happens. An img2img job whose strength leaves no step to
    run is its init image, unchanged (a model is never asked for a run of no step)."""
    if job.init is not None and job.steps_run == 0:
        return Completed([job.init.image.copy() for _ in job.seeds], decode_s=0.0)
    stop_hooks = StopHooks(runahead_blocks=runahead_blocks)
    stop_hooks.install(model.modules(), control, model.denoiser_name)
    start = time.perf_counter()
    try:
        images = model.run(job, control)
        return Completed(images, _time_phases(stats, control, start))
    except StopRequested as stop:
        _time_phases(stats, control, start)
        # The stop asked for the partial image: decode it whole, so a later stop that keeps nothing (a DELETE,
        # the timeout, a shutdown) does not cut it off and end the task as failed.
        stop_hooks.remove()
        partial = _decode_partial(model, job, control, stats) if stop.request.keep_partial else []
        return Skipped(partial) if stop.request.action == "skip" else Stopped(partial)
    finally:
        stop_hooks.remove()


def _decode_partial(
    model: LoadedModel, job: JobRequest, control: StepControl, stats: StatsRecorder
) -> list[Image.Image]:
    """The images of a stopped job, decoded from where it stopped (a rule's chosen latents, else the
    latest x0 estimate, else the latents of the last step); none when it stopped before any step."""
    latents = control.replacement_latents if control.replacement_latents is not None else control.last_x0
    if latents is None:
        latents = control.last_latents
    if latents is None:
        return []
    control.enter(Phase.DECODE)
    with stats.timed(Phase.DECODE), torch.inference_mode():
        return model.decode(latents, job.width, job.height)


def _time_phases(stats: StatsRecorder, control: StepControl, start: float) -> float:
    """Split the job's wall time into encode / denoise / decode; returns the decode time."""
    end = time.perf_counter()
    denoise_start = control.denoise_started or end
    last_step = control.last_step_end or denoise_start
    stats.add(Phase.ENCODE, denoise_start - start)
    stats.add(Phase.DENOISE, max(0.0, last_step - denoise_start))
    decode = end - last_step if control.phase is Phase.DECODE else 0.0
    stats.add(Phase.DECODE, decode)
    return decode
