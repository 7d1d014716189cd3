"""Runs one claimed task through its task context: load, resolve, the job loop, images, the end.

The runner never sees the store or the bus: what it may do goes through the ``TaskContext`` (report
progress, add an image, add a preview, read the stop token), and how the task ended is its return
value, a ``TaskEnd`` the worker hands to the service.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from pixelforge.backends.base import Backend, InitInput, JobRequest, LoadedModel, ModelLoadError, UnsupportedTask
from pixelforge.backends.presets import InvalidLora, ModelNotFound
from pixelforge.backends.resolve import job_request, resolve_params
from pixelforge.config import Settings
from pixelforge.engine.control import EarlyStopRule, StepControl, StepInfo, StopRequested
from pixelforge.engine.init_images import PreparedInput, prepare
from pixelforge.engine.job import Completed, Skipped, Stopped, run_job
from pixelforge.engine.postprocess import ImageWriter, is_sprite, write_sheet
from pixelforge.engine.preview import PreviewEncoder, encode_image
from pixelforge.engine.stats import StatsRecorder
from pixelforge.engine.storage import TaskFiles
from pixelforge.shown_paths import without_server_paths
from pixelforge.tasks.context import TaskContext
from pixelforge.tasks.infotext import infotext
from pixelforge.tasks.model import Phase, ResolvedParams, Task, TaskEnd, TaskState
from pixelforge.tasks.progress import ProgressTracker
from pixelforge.tasks.store import StoreFull, StoreUnavailable

log = logging.getLogger(__name__)

# Why a 'generate forever' task ended that nobody stopped: it made the server's max_images_per_task.
IMAGE_LIMIT_REASON = "image-limit"


@dataclass
class RunHooks:
    """Python-API extras for one task: an early-stop rule and a per-step callback."""

    early_stop: EarlyStopRule | None = None
    on_step: Callable[[StepInfo], None] | None = None


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "out of GPU memory: try a smaller size or batch, or an offload mode (--offload model)"
    if isinstance(exc, MemoryError):
        return "out of memory: try a smaller size or batch"
    if isinstance(exc, ModelNotFound | InvalidLora | UnsupportedTask | ModelLoadError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:  # the file's name, never the server's folders
        return f"{type(exc).__name__}: [Errno {exc.errno}] {exc.strerror} ({Path(str(exc.filename)).name})"
    return f"{type(exc).__name__}: {exc}"


# What a failed write of a task's files or records says when the disk (not the task) is at fault: full, read-only,
# not permitted, over quota, failing.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO})


def is_storage_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the storage failing (its disk or its store), which no retry of the task itself cures."""
    return isinstance(exc, StoreFull | StoreUnavailable) or (isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS)


class TaskRunner:
    def __init__(self, backend: Backend, settings: Settings, encoder: PreviewEncoder) -> None:
        self.backend = backend
        self.settings = settings
        self.encoder = encoder
        # Last measured decode seconds per (model, width, height), for the next task's first ETA.
        self.decode_times: dict[tuple[str, int, int], float] = {}

    def run(self, context: TaskContext, hooks: RunHooks | None = None) -> TaskEnd:
        params, claim = context.task.params, context.task.claim
        stats = StatsRecorder(self.backend.device)
        if claim is None:
            tracker = ProgressTracker(job_count=params.batch_count, steps=params.steps or 0)
        else:  # one job of a task split over workers: the store combines the jobs' progress
            tracker = ProgressTracker(job_count=1, steps=params.steps or 0, first_job=claim.job_no)
        run = _TaskRun(self, context, hooks or RunHooks(), stats, tracker)
        # The one place a timeout is applied: it stops the task like a click would, in any phase. It counts the
        # task's time: a job of a split task that starts late has only what is left of it.
        timer = None
        if params.timeout_s:
            spent = time.time() - context.task.started_at if claim is not None and context.task.started_at else 0.0
            if spent >= params.timeout_s:
                context.stop.interrupt(reason="timeout")
            else:
                timer = threading.Timer(params.timeout_s - spent, context.stop.interrupt, kwargs={"reason": "timeout"})
                timer.daemon = True
                timer.start()
        try:
            end = run.execute()
        except Exception as exc:
            log.exception("task %s failed", context.task.id)
            end = TaskEnd(state=TaskState.FAILED, error=without_server_paths(describe_error(exc), self.settings),
                          resolved=run.resolved, storage_fault=is_storage_fault(exc))
        finally:
            if timer is not None:
                timer.cancel()
        end.stats = stats.finish(tracker.step_durations)
        if end.state is TaskState.COMPLETED:
            end.progress = tracker.completed(end.stats.total_s)
        elif end.state is TaskState.FAILED:
            end.progress = tracker.failed(end.stats.total_s, end.error or "unknown error")
        # interrupted: the last progress says where it stopped.
        # Memory is freed by the caller (Worker._run) after the terminal event: see there why not here.
        return end

    def sheet_of(self, task: Task) -> str | None:
        """The sprite sheet of a task whose jobs ran on several workers, from every job's stored sprites in their
        order."""
        data_dir = self.settings.data_dir
        sprites = []
        for image in sorted(task.images, key=lambda i: i.index):
            if is_sprite(image.files):
                with Image.open(data_dir / image.path) as stored:
                    sprites.append(stored.convert("RGBA"))
        files = TaskFiles(data_dir, self.settings.images_dir, task.id)
        sheet = write_sheet(sprites, files.folder / f"{files.stem}-sheet.png")
        return files.relative(sheet) if sheet is not None else None


class _TaskRun:
    """The state of one task while it runs (kept off TaskRunner so the runner stays reusable)."""

    def __init__(
        self, runner: TaskRunner, context: TaskContext, hooks: RunHooks, stats: StatsRecorder, tracker: ProgressTracker
    ) -> None:
        self.runner = runner
        self.context = context
        self.stop = context.stop
        self.hooks = hooks
        self.stats = stats
        self.tracker = tracker
        self.started = time.monotonic()
        self.resolved: ResolvedParams | None = None
        self.image_count = 0

    def report(self) -> None:
        self.context.report_progress(self.tracker.snapshot(time.monotonic() - self.started))

    def execute(self) -> TaskEnd:
        params, settings = self.context.task.params, self.runner.settings
        self.report()
        if self.stop.interrupted:
            return self._end(TaskState.INTERRUPTED)
        with self.stats.timed(Phase.LOAD):
            model = self.runner.backend.load(params.model or settings.model, params.lora, params.lora_scale)
        resolved = self.resolved = resolve_params(params, model)
        prepared = self._prepare_input(model, resolved)
        init = InitInput(prepared.image, resolved.denoising_strength or 0.0, prepared.mask) if prepared else None
        # 'Generate forever' (batch_count 0) goes on until it is stopped, or has made the server's limit of images.
        job_count = params.batch_count or max(1, settings.max_images_per_task // params.batch_size)
        # progress, steps and ETA count the steps that run
        self.tracker.steps = job_request(params, resolved, 0, init).steps_run
        self.tracker.decode_prior_s = self.runner.decode_times.get((model.name, resolved.width, resolved.height))
        files = TaskFiles(settings.data_dir, settings.images_dir, self.context.task.id)
        writer = ImageWriter(
            files.folder, files.stem, resolved.pixel, already_1x=model.outputs_1x, scale=resolved.scale
        )
        claim = self.context.task.claim
        if claim is not None:  # this worker runs one job; its images keep their places in the batch
            self.image_count = claim.job_no * params.batch_size
        for job_no in range(job_count):
            if claim is not None and job_no != claim.job_no:
                continue
            # A job of a split task claimed after "stop after this image" was asked (the store kept it only so that
            # a worker ends the task) never runs.
            if self.stop.interrupted or (claim is not None and self.stop.after_job is not None):
                return self._end(TaskState.INTERRUPTED, writer, files)
            job = job_request(params, resolved, job_no, init)
            outcome = self._run_job(model, job, job_no)
            # A skip is used up by the job it was meant for, also when it let that job's decode finish.
            self.stop.clear_skip()
            images = outcome.images if isinstance(outcome, Completed) else outcome.partial
            if prepared is not None:
                images = prepared.finish(images)
            with self.stats.timed(Phase.POSTPROCESS):
                self._save(writer, files, images, job, job_no, partial=not isinstance(outcome, Completed))
            if isinstance(outcome, Stopped):
                return self._end(TaskState.INTERRUPTED, writer, files)
            if self.stop.after_job is not None and claim is None and job_no < job_count - 1:
                # "Stop after this image": the job's images are kept, the next job never starts. (On the last job
                # nothing is left to stop: the task completes. One job of a split task ends as it ran: the store
                # dropped the jobs still waiting when the stop came, and the task's end says interrupted.)
                return self._end(TaskState.INTERRUPTED, writer, files)
        if params.forever:
            self.context.report_progress(self.tracker.snapshot(
                time.monotonic() - self.started, textinfo=f"Stopped at the server's limit of {self.image_count} images "
                "per task (max_images_per_task)"))
            return self._end(TaskState.INTERRUPTED, writer, files, reason=IMAGE_LIMIT_REASON)
        return self._end(TaskState.COMPLETED, writer, files)

    def _prepare_input(self, model: LoadedModel, resolved: ResolvedParams) -> PreparedInput | None:
        """An img2img task's init image and mask, from its files, ready for the model at the task's size."""
        task = self.context.task
        if task.inputs is None or task.params.img2img is None:
            return None
        data_dir = self.runner.settings.data_dir
        with Image.open(data_dir / task.inputs.init_image) as stored:
            image = stored.convert("RGBA" if stored.mode == "RGBA" else "RGB")
        mask = None
        if task.inputs.mask is not None:
            with Image.open(data_dir / task.inputs.mask) as stored:
                mask = stored.convert("L")
        size = (resolved.width, resolved.height)
        return prepare(image, mask, task.params.img2img, size, resolved.seed, model.outputs_1x)

    def _end(self, state: TaskState, writer: ImageWriter | None = None, files: TaskFiles | None = None,
             reason: str | None = None) -> TaskEnd:
        """``reason``: why an interrupted task stopped, when no stop request says it (the image limit)."""
        sheet = None
        # One job of a split task leaves the sheet to whoever ends the task (it has every job's sprites).
        if writer is not None and files is not None and self.context.task.claim is None:
            with self.stats.timed(Phase.POSTPROCESS):
                sheet = writer.write_sheet()
        request = self.stop.ending
        if reason is None:
            reason = request.reason if request else "user"
        return TaskEnd(
            state=state,
            stop_reason=reason if state is TaskState.INTERRUPTED else None,
            resolved=self.resolved,
            sprite_sheet=files.relative(sheet) if sheet is not None and files is not None else None,
        )

    def _run_job(self, model: LoadedModel, job: JobRequest, job_no: int) -> Completed | Skipped | Stopped:
        control = StepControl(
            token=self.stop,
            steps=job.steps_run,
            job_no=job_no,
            tracker=self.tracker,
            on_step=lambda info: self._on_step(model, job, info),
            early_stop=self.hooks.early_stop,
            debug=self.runner.settings.debug_steps,
        )
        self.report()
        try:
            outcome = run_job(model, job, control, self.stats, self.runner.settings.runahead_blocks)
        finally:
            # The job's estimate is final now: a preview still pending would land after its image.
            self.runner.encoder.cancel_pending()
        if isinstance(outcome, Completed):
            self.tracker.record_decode(outcome.decode_s)
            self.runner.decode_times[(model.name, job.width, job.height)] = outcome.decode_s
        return outcome

    def _on_step(self, model: LoadedModel, job: JobRequest, info: StepInfo) -> None:
        self.report()
        every = self.runner.settings.preview_every
        if every and info.x0 is not None and info.step % every == 0 and info.step < info.steps:
            self._submit_preview(model, job, info.x0)
        if self.hooks.on_step is not None:
            self.hooks.on_step(info)

    def _submit_preview(self, model: LoadedModel, job: JobRequest, x0: torch.Tensor) -> None:
        image_format, context = self.runner.settings.preview_format, self.context

        def render() -> Image.Image | None:
            try:
                with torch.inference_mode():
                    return model.preview(x0, job.width, job.height)
            except StopRequested:
                return None  # the task is stopping: this preview is no longer wanted

        def publish(image: Image.Image) -> None:
            context.add_preview(*encode_image(image, image_format))

        self.runner.encoder.submit(render, publish)

    def _save(
        self, writer: ImageWriter, files: TaskFiles, images: list[Image.Image], job: JobRequest, job_no: int,
        partial: bool,
    ) -> None:
        params = self.context.task.params
        for seed, image in zip(job.seeds, images, strict=False):
            saved = writer.write(image, self.image_count, infotext(params.prompt, params.negative_prompt,
                                                                 self.resolved, seed))
            self.context.add_image(
                files.image_ref(saved, index=self.image_count, job_no=job_no, seed=seed, partial=partial)
            )
            self.image_count += 1
