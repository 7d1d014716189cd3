"""Request and response bodies of the native API (``/api/v1``), every field described for OpenAPI.

Responses are views of the domain's Task rather than the Task itself: the wire format carries
URLs and hides the owner and internal bookkeeping, so the store can change without breaking
clients.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pixelforge.server.task_ids import owner_shown_id, shown_id
from pixelforge.tasks.events import (
    EndPayload,
    ImagePayload,
    PreviewPayload,
    ProgressPayload,
    QueuedPayload,
    StartedPayload,
    TaskEvent,
)
from pixelforge.tasks.model import (
    TASK_ID_PATTERN,
    EventType,
    ImageRef,
    Phase,
    StopWhen,
    Task,
    TaskParams,
    TaskState,
)
from pixelforge.tasks.vocabulary import ErrorCode


class UploadParams(TaskParams):
    """What to generate; every parameter left out uses the model's default. (The ``params`` part of a
    multipart submission, whose images are file parts.)"""

    id: str | None = Field(
        default=None,
        pattern=TASK_ID_PATTERN.pattern,
        description="Optional client-chosen task id (1-128 of A-Z a-z 0-9 _ - ( ) . :), yours alone: another "
        "identity may choose the same one; the server makes an unguessable one otherwise.",
    )

    callback_url: str | None = Field(
        default=None, description="When the task ends, the server POSTs its view (as GET /tasks/{id} shows it) here, "
        "signed: X-Pixelforge-Signature: sha256=<hex HMAC-SHA256 of the body under the server's callback_secret>; "
        "retried with back-off. Only hosts in the server's callback_hosts setting (none by default: 422).")

    def params(self) -> TaskParams:
        return TaskParams.model_validate(self.model_dump(include=set(TaskParams.model_fields), exclude_unset=True))


class TaskCreate(UploadParams):
    """What to generate; every parameter left out uses the model's default. With ``init_image``, an img2img
    task (with ``mask`` too, inpainting); ``img2img`` holds its options."""

    init_image: str | None = Field(
        default=None, description="img2img: the image to start from, base64 (plain or a data: URL); PNG, JPEG, "
        "WebP, GIF or BMP. Or upload it as a file with POST /api/v1/tasks/upload.")
    mask: str | None = Field(
        default=None, description="Inpainting: a mask of the init image's size, base64; white = repaint.")


class SkipRequest(BaseModel):
    """The optional body of skip."""

    model_config = ConfigDict(extra="forbid")

    keep_partial: bool = Field(
        default=False,
        description="true decodes the unfinished image's current estimate and keeps it; false discards it "
        "without decoding.",
    )


class InterruptRequest(SkipRequest):
    """The optional body of interrupt."""

    when: StopWhen = Field(
        default="now", description="'now' stops inside the running step; 'after_job' lets the running job (image "
        "batch) finish and keeps it, and starts no further job. A later plain interrupt still stops at once.")


class StopRequestedOut(BaseModel):
    kind: Literal["interrupt", "skip"] = Field(description="interrupt (ends the task) or skip (ends the job).")
    when: StopWhen = Field(description="now, or after_job: once the running job has finished.")
    at: float | None = Field(description="Unix time the stop was asked for.")


class ProgressOut(BaseModel):
    phase: Phase = Field(description="What the task is doing: queued, load, encode, denoise, decode, postprocess, "
                         "done.")
    job_no: int = Field(description="0-based index of the running job (jobs finished so far).")
    job_count: int = Field(description="Jobs in the task (batch_count); 0 for 'generate forever': no total, "
                           "progress and ETA are the running image's.")
    step: int = Field(description="Denoising steps finished in the running job.")
    steps: int = Field(description="Denoising steps per job (0 until known).")
    progress: float = Field(description="0..1; reaches 1.0 only when the task has completed.")
    eta_s: float | None = Field(description="Seconds left, from measured step and decode times; null until known.")
    elapsed_s: float = Field(description="Seconds since the task started running.")
    textinfo: str = Field(description="One line for people, such as 'In queue: 2/3' or 'step 3/8'.")


class ImageOut(BaseModel):
    index: int = Field(description="Position of the image in the task, 0-based.")
    job_no: int = Field(description="Job (batch) that produced it, 0-based.")
    seed: int = Field(description="Seed that reproduces this image.")
    width: int = Field(description="Width in pixels.")
    height: int = Field(description="Height in pixels.")
    partial: bool = Field(description="True when decoded from an interrupted job's estimate.")
    url: str = Field(description="Where to GET the PNG; append ?scale=k for a nearest-neighbour upscale.")
    files: dict[str, str] = Field(
        description="URLs of the other outputs of this image, by kind: 'raw' (the model's own image when the "
        "pixel-art stage ran), 'upscaled', 'gpl' and 'hex' (palette), 'manifest' (what was detected)."
    )

    @classmethod
    def of(cls, image: ImageRef, task_url: str) -> ImageOut:
        """The image as a client sees it: URLs under ``task_url``, never a path of the data directory."""
        base = f"{task_url}/images/{image.index}"
        return cls(
            **image.model_dump(exclude={"path", "files"}),
            url=f"{base}.png",
            files={kind: f"{base}/{kind}" for kind in image.files},
        )


class StatsOut(BaseModel):
    device: str = Field(description="Device the task ran on.")
    total_s: float = Field(description="Wall time of the whole run, in seconds.")
    phases_s: dict[str, float] = Field(description="Wall time per phase (load, encode, denoise, decode, ...).")
    steps_run: int = Field(description="Denoising steps actually run.")
    step_time_s: float | None = Field(description="Median seconds per denoising step.")
    peak_vram_allocated_mb: float | None = Field(description="Peak GPU memory allocated, MiB (GPU only).")
    peak_vram_reserved_mb: float | None = Field(description="Peak GPU memory reserved, MiB (GPU only).")
    peak_rss_mb: float | None = Field(description="Peak resident memory of the worker process, MiB.")


class InputsOut(BaseModel):
    init_image_url: str = Field(description="Where to GET the init image as stored (PNG); yours only.")
    mask_url: str | None = Field(description="Where to GET the mask as stored (PNG), when there is one.")


class TaskOut(BaseModel):
    id: str = Field(description="Task id; A1111's task(<type>-<random>) form when the server made it.")
    type: str = Field(description="Kind of task: txt2img or img2img.")
    state: TaskState = Field(description="queued, running, completed, interrupted, failed or cancelled.")
    position: int | None = Field(description="1-based place in the queue while queued, else null.")
    queue_size: int | None = Field(description="Queued tasks in total while this one is queued, else null.")
    starts_in_s: float | None = Field(
        description="While queued: seconds until it likely starts, from the measured run times of tasks of its model "
        "and size and the work ahead of it over the workers; null when that cannot be estimated yet.")
    params: TaskParams = Field(description="The parameters as submitted (seed resolved); nulls mean model defaults.")
    inputs: InputsOut | None = Field(description="An img2img task's init image and mask, else null.")
    info: dict[str, object] = Field(description="Resolved parameters and the model name, once the task has run.")
    progress: ProgressOut = Field(description="Latest progress.")
    images: list[ImageOut] = Field(description="Finished images so far; a later stop never removes them.")
    stats: StatsOut | None = Field(description="Performance statistics, once the task has finished.")
    error: str | None = Field(description="Why the task failed, for people.")
    error_code: ErrorCode | None = Field(
        default=None, description="The machine code of its error: task_failed, or server_restart (interrupted).")
    stop_reason: str | None = Field(description="Why the task stopped early: user, timeout, shutdown, ...")
    stop_requested: StopRequestedOut | None = Field(
        description="A stop request the worker has not finished honouring yet (until the task's final state): "
        "show 'Stopping…' or 'Stopping after this image…'."
    )
    retried_from: str | None = Field(description="The task this one retries (POST /tasks/{id}/retry), else null.")
    callback_url: str | None = Field(description="Where its end notice goes (see TaskCreate), else null.")
    created_at: float = Field(description="Unix time the task was submitted.")
    started_at: float | None = Field(description="Unix time a worker started it.")
    finished_at: float | None = Field(description="Unix time it reached a final state.")
    events_url: str = Field(description="Server-Sent Events stream of this task.")
    sheet_url: str | None = Field(description="Sprite sheet of the task's 1× sprites, when it made more than one.")

    @classmethod
    def of(cls, task: Task, viewer: str, base: str = "/api/v1") -> TaskOut:
        """The task as ``viewer`` (an owner string) sees it: under the id it knows the task by."""
        task_id = shown_id(task, viewer)
        prefix = f"{base}/tasks/{task_id}"
        return cls(
            id=task_id,
            type=task.type,
            state=task.state,
            position=task.position,
            queue_size=task.queue_size,
            starts_in_s=task.starts_in_s,
            params=task.params,
            inputs=InputsOut(
                init_image_url=f"{prefix}/inputs/init_image.png",
                mask_url=f"{prefix}/inputs/mask.png" if task.inputs.mask else None,
            ) if task.inputs else None,
            info=task.info_view(),
            progress=ProgressOut.model_validate(task.progress.model_dump()),
            images=[ImageOut.of(image, prefix) for image in task.images],
            stats=StatsOut.model_validate(task.stats.model_dump()) if task.stats else None,
            error=task.error,
            error_code=task.error_code,
            stop_reason=task.stop_reason,
            stop_requested=StopRequestedOut(
                kind=task.stop_request.action, when=task.stop_request.when, at=task.stop_request.at,
            ) if task.stop_request and not task.state.is_terminal else None,
            retried_from=(owner_shown_id(task.origin.retried_from) if task.owner == viewer
                          else task.origin.retried_from) if task.origin.retried_from else None,
            callback_url=task.origin.callback_url,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            events_url=f"{prefix}/events",
            sheet_url=f"{prefix}/sheet.png" if task.sprite_sheet else None,
        )


class QueuedData(BaseModel):
    position: int = Field(description="1-based place in the queue.")
    size: int = Field(description="Queued tasks in all.")
    starts_in_s: float | None = Field(default=None, description="Seconds until it likely starts (see TaskOut); "
                                      "absent while that cannot be estimated.")
    requeued: str | None = Field(
        default=None, description="Distributed mode: why a running task is queued again (its worker died); "
        "another worker takes it at once.")
    attempt: int | None = Field(default=None, description="With requeued: the start this will be (2 = second).")


class StartedData(BaseModel):
    worker_device: str | None = Field(
        default=None, description="Device of the worker that runs the task (absent when a job is taken over).")
    worker_id: str | None = Field(default=None, description="Name of the worker that runs the task.")
    job_no: int | None = Field(
        default=None, description="Distributed mode, split batch: the job another worker took over (from 0).")
    requeued: str | None = Field(default=None, description="With job_no: why (the job's worker died).")
    attempt: int | None = Field(default=None, description="With job_no: the start this is (2 = second).")


class PreviewData(BaseModel):
    id: int = Field(description="Preview id, increasing within the task.")
    media_type: str = Field(description="Encoding of the preview image.")
    url: str = Field(description="Where to GET this preview (while it is among the newest kept).")


class EndData(BaseModel):
    images: int = Field(description="Finished images the task kept.")
    stats: StatsOut | None = Field(default=None, description="Performance statistics of the run.")
    error: str | None = Field(default=None, description="Why the task failed.")
    error_code: ErrorCode | None = Field(default=None, description="The machine code of its error (TaskOut's).")
    reason: str | None = Field(default=None, description="Why it stopped early: user, timeout, shutdown, ...")
    task: TaskOut = Field(description="The finished task, as GET /tasks/{id} returns it.")


class EventOut(BaseModel):
    """One Server-Sent Event: a task event as the API shows it (URLs, a structured phase), never the
    domain event itself (which names data-directory files)."""

    task_id: str = Field(description="The task.")
    seq: int = Field(description="Per-task sequence number, from 1, without gaps: the SSE id.")
    type: EventType = Field(description="queued, started, progress, preview, image, or the terminal one.")
    time: float = Field(description="Unix time of the event.")
    data: QueuedData | StartedData | ProgressOut | PreviewData | ImageOut | EndData = Field(
        description="By type: queued → position/size; started → worker_device, or the job taken over; progress → "
        "the task's progress (its phase, not text, says what it is doing); preview → id and url; image → the image "
        "with its URLs; a terminal event → image count, stats, reason or error, and the whole finished task."
    )

    @classmethod
    def of(
        cls,
        event: TaskEvent,
        finished: Task | None = None,
        *,
        task_id: str | None = None,
        viewer: str | None = None,
        base: str = "/api/v1",
    ) -> EventOut:
        """``finished``: the task, for a terminal event (its view travels with the event). ``task_id``: the id
        the client knows the task by (default: the stored one); ``viewer``: the owner string of the client
        (default: the task's owner)."""
        shown = task_id or event.task_id
        task_url = f"{base}/tasks/{shown}"
        data: BaseModel
        match event.data:
            case QueuedPayload():
                data = QueuedData.model_validate(event.data, from_attributes=True)
            case StartedPayload():
                data = StartedData.model_validate(event.data, from_attributes=True)
            case ProgressPayload():
                data = ProgressOut.model_validate(event.data, from_attributes=True)
            case PreviewPayload(id=preview_id, media_type=media_type):
                data = PreviewData(id=preview_id, media_type=media_type, url=f"{task_url}/previews/{preview_id}")
            case ImagePayload():
                data = ImageOut.of(event.data, task_url)
            case EndPayload(reason=reason):
                assert finished is not None, "a terminal event is shown with its task"
                task = TaskOut.of(finished, finished.owner if viewer is None else viewer, base)
                data = EndData(
                    images=len(finished.images),
                    stats=task.stats,
                    error=finished.error,
                    error_code=finished.error_code,
                    reason=reason or finished.stop_reason,
                    task=task,
                )
        return cls(task_id=shown, seq=event.seq, type=event.type, time=event.time, data=data)


class TaskPage(BaseModel):
    tasks: list[TaskOut] = Field(description="Newest first.")
    total: int = Field(description="Tasks matching the filter in all pages.")
    limit: int = Field(description="Page size used.")
    offset: int = Field(description="Tasks skipped before this page.")


class RunningOut(BaseModel):
    id: str | None = Field(description="The running task's id when it is yours (or you are an admin), else null.")
    mine: bool = Field(description="Whether the running task is yours.")
    progress: float = Field(description="0..1 progress of the running task.")
    eta_s: float | None = Field(description="Seconds left of the running task, when known.")


class QueuedOut(BaseModel):
    id: str = Field(description="Id of one of your queued tasks.")
    position: int = Field(description="Its 1-based place in the queue.")


class QueueOut(BaseModel):
    paused: bool = Field(description="An admin paused the queue: queued tasks wait, running ones finish.")
    pending: int = Field(description="Queued tasks of all identities.")
    running: list[RunningOut] = Field(description="Tasks running now (one per worker).")
    mine: list[QueuedOut] = Field(description="Your queued tasks and their places, in queue order.")


class WorkerOut(BaseModel):
    worker_id: str = Field(description="The worker's name.")
    alive: bool = Field(description="False when the worker has ended while the server runs (tasks would wait).")
    stuck: bool = Field(description="Running a task with no sign of progress for longer than worker_stuck_s.")
    last_error: str | None = Field(description="The last error the worker itself hit (not a task's own failure).")
    problem: str | None = Field(
        default=None, description="Why it cannot do its work now: it cannot store a task's end, its recent tasks "
        "all failed on storage, or it cannot reach Redis. None when it can.")


class HealthOut(BaseModel):
    status: Literal["ok", "unhealthy"] = Field(
        description="'ok', or 'unhealthy' (HTTP 503) when a worker is dead, stuck or has a problem, or there is no "
        "worker.")
    version: str = Field(description="pixelforge version.")
    problem: str | None = Field(
        default=None, description="What makes the server unhealthy apart from its workers: its task store (Redis) "
        "not answering. The queue and the workers cannot be read then: their fields are null and empty.")
    paused: bool | None = Field(default=None, description="Whether the queue is paused.")
    queued: int | None = Field(default=None, description="Queued tasks.")
    running: int | None = Field(default=None, description="Running tasks.")
    workers: list[WorkerOut] = Field(
        default_factory=list, description="The workers of this server process; in distributed mode, every worker "
        "whose heartbeat is fresh, and for a minute each one lost (its heartbeat expired without its leaving).")


class Message(BaseModel):
    detail: str = Field(description="What happened, for people (a list of field errors on 422).")
    message: str = Field(description="What happened, in one line for people; every error body has it.")
