"""Runs one claimed task on a backend: jobs, step control, previews, images, stats, terminal state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import torch
from PIL import Image

from pixelforge.backends.base import Backend, JobRequest, LoadedModel
from pixelforge.backends.presets import InvalidLora, ModelNotFound
from pixelforge.config import Settings
from pixelforge.engine.control import EarlyStopRule, StepControl, StepInfo, StopHooks, StopRequested, StopToken
from pixelforge.engine.postprocess import ImageWriter, pixel_options_for
from pixelforge.engine.preview import PreviewEncoder, X0Tracker, encode_image
from pixelforge.engine.stats import StatsRecorder
from pixelforge.tasks.files import file_stem
from pixelforge.tasks.infotext import infotext
from pixelforge.tasks.model import EventType, ImageRef, Phase, Task, TaskState
from pixelforge.tasks.progress import ProgressTracker
from pixelforge.tasks.service import TaskService

log = logging.getLogger(__name__)

SAMPLER_NAMES = {
    "FlowMatchEulerDiscreteScheduler": "Euler",
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DDIMScheduler": "DDIM",
    "UniPCMultistepScheduler": "UniPC",
}


@dataclass
class RunHooks:
    """Python-API extras for one task: an early-stop rule and a per-step callback."""

    early_stop: EarlyStopRule | None = None
    on_step: Callable[[StepInfo], None] | None = None


@dataclass
class _Outcome:
    state: TaskState
    stop_reason: str | None = None
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "out of GPU memory: try a smaller size or batch, or an offload mode (--offload model)"
    if isinstance(exc, ModelNotFound | InvalidLora):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TaskRunner:
    def __init__(self, service: TaskService, backend: Backend, settings: Settings, encoder: PreviewEncoder) -> None:
        self.service = service
        self.store = service.store
        self.backend = backend
        self.settings = settings
        self.encoder = encoder
        # Last measured decode seconds per (model, width, height), for the next task's first ETA.
        self.decode_times: dict[tuple[str, int, int], float] = {}

    def run(self, task: Task, token: StopToken, hooks: RunHooks | None = None) -> Task:
        hooks = hooks or RunHooks()
        device = getattr(self.backend, "device", torch.device("cpu"))
        stats = StatsRecorder(device)
        tracker = ProgressTracker(job_count=task.params.batch_count, steps=task.params.steps or 0)
        run = _TaskRun(self, task, token, hooks, stats, tracker)
        self.service.emit(task.id, EventType.STARTED, {"worker_device": str(device)})
        try:
            outcome = run.execute()
        except Exception as exc:
            log.exception("task %s failed", task.id)
            outcome = _Outcome(TaskState.FAILED, error=describe_error(exc))
        finally:
            self.encoder.wait_idle(timeout=5)
        final_stats = stats.finish(tracker.step_durations)
        if outcome.state is TaskState.COMPLETED:
            progress = tracker.completed(final_stats.total_s)
        elif outcome.state is TaskState.FAILED:
            progress = tracker.failed(final_stats.total_s, outcome.error or "unknown error")
        else:  # interrupted: the last progress says where it stopped
            progress = None
        finished = self.store.finish(
            task.id,
            outcome.state,
            progress=progress,
            stats=final_stats,
            error=outcome.error,
            stop_reason=outcome.stop_reason,
        )
        data: dict[str, Any] = {"images": len(finished.images), "stats": final_stats.model_dump()}
        if outcome.error:
            data["error"] = outcome.error
        if outcome.stop_reason:
            data["reason"] = outcome.stop_reason
        self.service.emit(task.id, EventType(outcome.state.value), data)
        # Memory is freed by the caller (Worker._run) once this returns: see there why not here.
        return finished


class _TaskRun:
    """The state of one task while it runs (kept off TaskRunner so the runner stays reusable)."""

    def __init__(
        self,
        runner: TaskRunner,
        task: Task,
        token: StopToken,
        hooks: RunHooks,
        stats: StatsRecorder,
        tracker: ProgressTracker,
    ) -> None:
        self.runner = runner
        self.task = task
        self.token = token
        self.hooks = hooks
        self.stats = stats
        self.tracker = tracker
        self.started = time.monotonic()
        self.deadline = self.started + task.params.timeout_s if task.params.timeout_s else None
        self.preview_id = 0
        self.image_count = 0
        self.writer: ImageWriter | None = None

    # --- progress --------------------------------------------------------------------------
    def publish_progress(self) -> None:
        snapshot = self.tracker.snapshot(time.monotonic() - self.started)
        self.runner.service.report_progress(self.task.id, snapshot)

    def stop_pending(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.token.interrupt(reason="timeout")
        return self.token.interrupted

    # --- the task --------------------------------------------------------------------------
    def execute(self) -> _Outcome:
        outcome = self._run_jobs()
        if self.writer is not None and outcome.state is not TaskState.FAILED:
            with self.stats.timed(Phase.POSTPROCESS):
                sheet = self.writer.write_sheet()
            if sheet is not None:
                self.task.info["sprite_sheet"] = str(sheet.relative_to(self.runner.settings.data_dir))
                self.runner.store.set_info(self.task.id, self.task.info)
        return outcome

    def _run_jobs(self) -> _Outcome:
        params = self.task.params
        self.publish_progress()
        if self.stop_pending():
            return self._stopped()
        with self.stats.timed(Phase.LOAD):
            model = self.runner.backend.load(params.model or self.runner.settings.model, params.lora, params.lora_scale)
        defaults = model.defaults()
        steps = params.steps or defaults.steps
        width, height = params.width or defaults.width, params.height or defaults.height
        cfg = params.cfg_scale if params.cfg_scale is not None else defaults.cfg_scale
        self.tracker.steps = steps
        self.tracker.decode_prior_s = self.runner.decode_times.get((model.name, width, height))
        info = {
            "model": model.name,
            "sd_model_name": model.name,
            "steps": steps,
            "cfg_scale": cfg,
            "width": width,
            "height": height,
            "seed": params.seed,
            "sampler_name": SAMPLER_NAMES.get(type(model.pipe.scheduler).__name__, type(model.pipe.scheduler).__name__),
            "lora": params.lora,
            "lora_scale": params.lora_scale if params.lora else None,
            "prompt_used": model.prompt_text(params.prompt),
        }
        pixel = pixel_options_for(params.pixel, model.preset, width)
        info["pixel"] = pixel.model_dump() if pixel else None
        self.runner.store.set_info(self.task.id, info)
        self.task.info = info
        folder = self.runner.settings.images_dir / datetime.now().strftime("%Y-%m-%d")
        self.writer = ImageWriter(folder, file_stem(self.task.id), pixel, already_1x=model.outputs_1x)
        for job_no in range(params.batch_count):
            if self.stop_pending():
                return self._stopped()
            first_seed = params.seed + job_no * params.batch_size
            job = JobRequest(
                prompt=params.prompt,
                negative_prompt=params.negative_prompt,
                steps=steps,
                cfg_scale=cfg,
                width=width,
                height=height,
                seeds=[(first_seed + i) % 2**32 for i in range(params.batch_size)],
            )
            kept_going = self._run_job(model, job, job_no)
            if not kept_going:
                return self._stopped()
        return _Outcome(TaskState.COMPLETED)

    def _stopped(self) -> _Outcome:
        request = self.token.pending
        return _Outcome(TaskState.INTERRUPTED, stop_reason=request.reason if request else "user")

    def _run_job(self, model: LoadedModel, job: JobRequest, job_no: int) -> bool:
        """Run one job; False when the task was interrupted (its finished images stay saved)."""
        pipe = model.pipe
        self.tracker.start_job(job_no)
        self.publish_progress()
        x0 = X0Tracker(pipe.scheduler)
        control = StepControl(
            token=self.token,
            steps=job.steps,
            job_no=job_no,
            on_step=lambda info: self._on_step(model, job, info),
            early_stop=self.hooks.early_stop,
            deadline=self.deadline,
            x0_of=lambda: x0.latest,
            debug=self.runner.settings.debug_steps,
        )
        stop_hooks = StopHooks(runahead_blocks=self.runner.settings.runahead_blocks)
        stop_hooks.install(pipe.components, control, model.denoiser_name)
        job_start = time.perf_counter()
        images: list[Image.Image] = []
        partial = False
        try:
            kwargs = model.pipeline_kwargs(job)
            kwargs.update(callback_on_step_end=control, callback_on_step_end_tensor_inputs=["latents"])
            with torch.inference_mode():
                images = pipe(**kwargs).images
            decode = self._time_phases(control, job_start, time.perf_counter())
            self.tracker.record_decode(decode)
            self.runner.decode_times[(model.name, job.width, job.height)] = decode
        except StopRequested as stop:
            self._time_phases(control, job_start, time.perf_counter())
            if stop.request.action == "skip":
                self.token.clear_skip()
                self.runner.store.clear_skip(self.task.id)
                return True
            if stop.request.keep_partial:
                latents = control.replacement_latents if control.replacement_latents is not None else x0.latest
                if latents is None:
                    latents = control.last_latents
                if latents is not None:
                    control.phase = Phase.DECODE
                    self.tracker.phase = Phase.DECODE
                    with self.stats.timed(Phase.DECODE), torch.inference_mode():
                        images = model.decode(latents, job.width, job.height)
                    partial = True
            if not partial:
                return False
        finally:
            # The job's estimate is final now: a preview still pending would land after its image.
            self.runner.encoder.cancel_pending()
            stop_hooks.remove()
            x0.remove()
            pipe._interrupt = False
            maybe_free = getattr(pipe, "maybe_free_model_hooks", None)
            if maybe_free is not None:
                maybe_free()
        with self.stats.timed(Phase.POSTPROCESS):
            self._save_images(images, job, job_no, partial)
        return not partial

    def _time_phases(self, control: StepControl, job_start: float, end: float) -> float:
        """Split the job's wall time into encode / denoise / decode; returns the decode time."""
        denoise_start = control.denoise_started or end
        last_step = control.last_step_end or denoise_start
        self.stats.add(Phase.ENCODE, denoise_start - job_start)
        self.stats.add(Phase.DENOISE, max(0.0, last_step - denoise_start))
        decode = end - last_step if control.phase is Phase.DECODE else 0.0
        self.stats.add(Phase.DECODE, decode)
        return decode

    def _on_step(self, model: LoadedModel, job: JobRequest, info: StepInfo) -> None:
        self.tracker.record_step(info.step, info.duration_s)
        if info.step >= info.steps:
            self.tracker.phase = Phase.DECODE
        self.publish_progress()
        every = self.runner.settings.preview_every
        if every and info.x0 is not None and info.step % every == 0 and info.step < info.steps:
            self._submit_preview(model, job, info.x0)
        if self.hooks.on_step is not None:
            self.hooks.on_step(info)

    def _submit_preview(self, model: LoadedModel, job: JobRequest, x0: torch.Tensor) -> None:
        self.preview_id += 1
        preview_id, task_id, store, service = self.preview_id, self.task.id, self.runner.store, self.runner.service
        image_format = self.runner.settings.preview_format

        def render() -> Image.Image | None:
            try:
                with torch.inference_mode():
                    return model.preview(x0, job.width, job.height)
            except StopRequested:
                return None  # the task is stopping: this preview is no longer wanted

        def publish(image: Image.Image) -> None:
            data, media_type = encode_image(image, image_format)
            store.put_preview(task_id, preview_id, data, media_type)
            service.emit(task_id, EventType.PREVIEW, {"id": preview_id, "media_type": media_type})

        self.runner.encoder.submit(render, publish)

    def _save_images(self, images: list[Image.Image], job: JobRequest, job_no: int, partial: bool) -> None:
        data_dir = self.runner.settings.data_dir
        assert self.writer is not None
        for offset, image in enumerate(images):
            index = self.image_count
            seed = job.seeds[offset] if offset < len(job.seeds) else job.seeds[-1]
            text = infotext(self.task.params.prompt, self.task.params.negative_prompt, self.task.info, seed)
            saved = self.writer.write(image, index, text)
            ref = ImageRef(
                index=index,
                job_no=job_no,
                seed=seed,
                path=str(saved.path.relative_to(data_dir)),
                width=saved.size[0],
                height=saved.size[1],
                partial=partial,
                files={kind: str(other.relative_to(data_dir)) for kind, other in saved.files.items()},
            )
            self.runner.store.add_image(self.task.id, ref)
            self.runner.service.emit(self.task.id, EventType.IMAGE, ref.model_dump())
            self.image_count += 1
