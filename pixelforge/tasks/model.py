"""The task domain: what a generation request is, what state it is in, and what it reports.

Everything here is plain pydantic so that the same objects cross every boundary: the task store,
the event bus, the HTTP API's views, the CLI's ``--json`` output and the Python API.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from pixelforge.pixelart.options import PixelOptions
from pixelforge.tasks.vocabulary import TERMINAL_STATES as TERMINAL_STATES
from pixelforge.tasks.vocabulary import ErrorCode
from pixelforge.tasks.vocabulary import EventType as EventType
from pixelforge.tasks.vocabulary import TaskState as TaskState

TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-().:]{1,128}$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
# A week: longer than any generation, and far below what a timer can wait (threading.TIMEOUT_MAX, ~292 years;
# beyond it the timer fails in its own thread and the task would run with no timeout at all).
MAX_TIMEOUT_S = 7 * 24 * 3600


class Phase(StrEnum):
    """Where a running task spends its time. Timed separately, so ETA never mixes them up."""

    QUEUED = "queued"
    LOAD = "load"
    ENCODE = "encode"
    DENOISE = "denoise"
    DECODE = "decode"
    POSTPROCESS = "postprocess"
    DONE = "done"


def new_task_id(task_type: str = "txt2img") -> str:
    """An unguessable id in AUTOMATIC1111's ``task(<type>-<random>)`` form (80 bits of randomness)."""
    random_part = "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    return f"task({task_type}-{random_part})"


def new_seed() -> int:
    return secrets.randbelow(2**32)


class ResizeMode(StrEnum):
    """How an init image is fitted to the requested size (A1111's resize_mode 0, 1, 2)."""

    JUST_RESIZE = "just_resize"
    CROP_AND_RESIZE = "crop_and_resize"
    RESIZE_AND_FILL = "resize_and_fill"


class InpaintingFill(StrEnum):
    """What the masked area starts from (A1111's inpainting_fill 0, 1, 2, 3)."""

    FILL = "fill"
    ORIGINAL = "original"
    LATENT_NOISE = "latent_noise"
    LATENT_NOTHING = "latent_nothing"


class Img2ImgOptions(BaseModel):
    """How an img2img task uses its init image and mask (the images themselves are the task's files)."""

    model_config = ConfigDict(extra="forbid")

    denoising_strength: float = Field(
        default=0.75, ge=0.0, le=1.0, description="How much of the schedule runs: 0 returns the input, 1 ignores "
        "it; steps − int(steps × (1 − strength)) steps run (diffusers' rule), and progress counts only those.")
    resize_mode: ResizeMode = Field(
        default=ResizeMode.CROP_AND_RESIZE, description="How the init image is fitted to width × height: "
        "'crop_and_resize' (the default: scaled to cover, centre cropped, never distorted), 'resize_and_fill' "
        "(scaled to fit, its edges extended into the bands left) or 'just_resize' (stretched, A1111's default). "
        "Upscales are nearest-neighbour (crisp pixels), downscales average whole pixels.")
    mask_blur: int = Field(
        default=4, ge=0, le=64, description="Gaussian blur radius of the mask, softening the seam on latent models "
        "(a 1× sprite model uses the mask as drawn, pixel for pixel).")
    inpaint_full_res: bool = Field(
        default=False, description="'Inpaint only masked' (latent models): the masked area plus padding is "
        "inpainted at the full requested size and pasted back into the image at its own size.")
    inpaint_full_res_padding: int = Field(default=32, ge=0, le=1024, description="Pixels around the masked area "
                                          "that 'only masked' inpainting takes in.")
    inpainting_mask_invert: bool = Field(default=False, description="Repaint the black part of the mask instead.")
    inpainting_fill: InpaintingFill = Field(
        default=InpaintingFill.ORIGINAL, description="What the masked area starts from: 'original', 'fill' (the "
        "surrounding colours, blurred), 'latent_noise' (random pixels) or 'latent_nothing' (grey).")


class TaskParams(BaseModel):
    """What to generate. ``None`` means "the model's own default" and is resolved when the task runs."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="", description="What to draw.")
    negative_prompt: str = Field(default="", description="What to avoid (used when CFG is on).")
    steps: int | None = Field(default=None, ge=1, description="Denoising steps per image; model default if unset.")
    cfg_scale: float | None = Field(
        default=None, ge=0.0, le=50.0, description="Classifier-free guidance scale; model default if unset."
    )
    width: int | None = Field(default=None, ge=16, description="Image width in pixels, a multiple of 16.")
    height: int | None = Field(default=None, ge=16, description="Image height in pixels, a multiple of 16.")
    seed: int = Field(default=-1, ge=-1, lt=2**32, description="-1 picks a random seed; image k of job j uses "
                      "seed + j·batch_size + k (seed + i for image i unless a job was skipped).")
    batch_count: int = Field(default=1, ge=0, description="Jobs run one after another (A1111 n_iter); 0: until "
                             "stopped ('generate forever', up to the server's max_images_per_task images).")
    batch_size: int = Field(default=1, ge=1, description="Images per job, denoised together.")
    model: str | None = Field(default=None, description="Preset name, local directory or cached repo id.")
    lora: str | None = Field(default=None, description="Path of a LoRA .safetensors file.")
    lora_scale: float = Field(default=1.0, ge=-4.0, le=4.0, description="Strength of the LoRA.")
    timeout_s: float | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S, description="Stop the task automatically after this (at most a week).")
    pixel: PixelOptions | None = Field(
        default=None,
        description="True pixel-art post-processing (grid snapping, palette, transparency). Unset: on for models "
        "that paint fake pixel art (the qwen-image preset), off for models whose output is already 1× (sprite).",
    )
    img2img: Img2ImgOptions | None = Field(
        default=None, description="img2img / inpainting options; set on every task that has an init image.")

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_16(cls, value: int | None) -> int | None:
        if value is not None and value % 16:
            # Typed as pydantic's own multiple_of, which clients translate; the message as a ValueError's.
            raise PydanticCustomError("multiple_of", "Value error, must be a multiple of {multiple_of}, got {value}",
                                      {"multiple_of": 16, "value": value})
        return value

    @property
    def forever(self) -> bool:
        """Jobs go on until the task is stopped (or reaches the server's image limit)."""
        return self.batch_count == 0


# The type of a field error over an operator's bound (pydantic's own for a field's ``le``).
AT_MOST = "less_than_equal"


class Problem(BaseModel):
    """One reason a submission is refused: the parameter it concerns and what is wrong, for people."""

    field: str = Field(description="TaskParams field name, e.g. 'steps' or 'pixel'.")
    message: str
    type: str = Field(default="limit", description="Its machine code, as pydantic's errors have one: "
                      "'less_than_equal' and 'string_too_long' (over the operator's bound, which the message names "
                      "first), else 'limit'.")

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class TaskLimits(BaseModel):
    """Operator-set bounds checked when a task is submitted (the pydantic model checks the shape).

    The defaults here are the only ones: ``Settings`` takes its ``max_*`` defaults from this class."""

    max_steps: int = Field(default=150, ge=1, description="Upper bound for steps per image.")
    max_side: int = Field(default=2048, ge=16, description="Upper bound for width and height.")
    max_batch_count: int = Field(default=16, ge=1, description="Upper bound for batch_count.")
    max_batch_size: int = Field(default=8, ge=1, description="Upper bound for batch_size.")
    max_prompt_chars: int = Field(default=4000, ge=1, description="Upper bound for prompt and negative prompt.")
    max_images_per_task: int = Field(
        default=1000, ge=1, description="Upper bound for the images of one task: a 'generate forever' task "
        "(batch_count 0) ends when it has made this many, so the history stays bounded.")
    max_active_per_identity: int = Field(
        default=8, ge=1, description="Queued plus running tasks one identity may have; more are refused.")
    max_queued_total: int = Field(default=100, ge=1, description="Queued tasks in all; more are refused.")
    max_input_pixels: int = Field(
        default=4096 * 4096, ge=1, description="Upper bound for the pixels of an init image or mask (checked from "
        "the header, before decoding: a decompression bomb is refused, not decoded).")
    max_input_bytes_per_identity: int = Field(
        default=256 * 1024 * 1024, ge=1, description="Bytes of input images (init images, masks) one identity's "
        "queued and running tasks may hold (more are refused until some end), and its finished tasks may keep "
        "(older ones are pruned first): an identity stores at most twice this.")

    def violations(self, params: TaskParams) -> list[Problem]:
        problems: list[Problem] = []
        if params.steps is not None and params.steps > self.max_steps:
            problems.append(
                Problem(field="steps", message=f"at most {self.max_steps}, got {params.steps}", type=AT_MOST))
        for name in ("width", "height"):
            value = getattr(params, name)
            if value is not None and value > self.max_side:
                problems.append(Problem(field=name, message=f"at most {self.max_side}, got {value}", type=AT_MOST))
        if params.batch_count > self.max_batch_count:
            problems.append(
                Problem(field="batch_count", message=f"at most {self.max_batch_count}, got {params.batch_count}",
                        type=AT_MOST)
            )
        if params.batch_size > self.max_images_per_task:
            problems.append(Problem(field="batch_size", message=f"at most the server's max_images_per_task "
                                    f"({self.max_images_per_task}) images per task, got {params.batch_size}"))
        elif params.batch_count * params.batch_size > self.max_images_per_task:
            problems.append(Problem(field="batch_count", message=f"at most the server's max_images_per_task "
                                    f"({self.max_images_per_task}) images per task, got "
                                    f"{params.batch_count} × {params.batch_size}"))
        if params.batch_size > self.max_batch_size:
            problems.append(
                Problem(field="batch_size", message=f"at most {self.max_batch_size}, got {params.batch_size}",
                        type=AT_MOST)
            )
        for name in ("prompt", "negative_prompt"):
            length = len(getattr(params, name))
            if length > self.max_prompt_chars:
                problems.append(
                    Problem(field=name, message=f"at most {self.max_prompt_chars} characters, got {length}",
                            type="string_too_long")
                )
        return problems


StopWhen = Literal["now", "after_job"]


class StopRequest(BaseModel):
    """A control request from a user (or an automatic rule) for one task."""

    action: Literal["interrupt", "skip"] = "interrupt"
    keep_partial: bool = Field(default=False, description="Decode the current estimate instead of discarding it.")
    reason: str = Field(default="user", description="'user', 'timeout', 'early-stop', 'shutdown', ...")
    jobs: list[int] | None = Field(
        default=None, description="The jobs a skip ends on a task whose jobs run on several workers at once: those "
        "running when it was asked (the store fills it in). None: the job running now.")
    when: StopWhen = Field(
        default="now", description="An interrupt's moment: 'now' (inside the step), or 'after_job': the running job "
        "finishes and its images are kept, no further job starts.")
    at: float | None = Field(default=None, description="Unix time the stop was asked for (the service sets it).")

    @field_validator("when")
    @classmethod
    def _after_job_interrupts(cls, when: str, info: ValidationInfo) -> str:
        if when == "after_job" and info.data.get("action") == "skip":
            raise ValueError("a skip ends the running job now; only an interrupt may wait for the job's end")
        return when

    def applies_to(self, job_no: int | None) -> bool:
        """Whether this request stops the run of ``job_no`` (None: a run of the whole task)."""
        return self.action == "interrupt" or self.jobs is None or job_no in self.jobs

    @property
    def rank(self) -> int:
        """How much of the task it stops: a skip (one job) < an interrupt after the job < an interrupt now."""
        if self.action == "skip":
            return 0
        return 1 if self.when == "after_job" else 2

    def yields_to(self, pending: StopRequest | None) -> bool:
        """Whether a stored ``pending`` request stays instead of this one: a later click never downgrades a stop
        (an interrupt to a skip or to 'after the job'); an equal or stronger one replaces it."""
        return pending is not None and pending.rank > self.rank

    def expires_between(self, job_no_before: int, job_no_after: int) -> bool:
        """Whether this stored request lapses when the task's progress moves from job ``job_no_before`` to
        ``job_no_after``: a skip ends the job it was meant for, so once progress names another job it has expired.
        A skip that names its jobs (a split task's) expires with those jobs instead, as each ends; an interrupt
        never expires (the task's end drops it)."""
        return self.action == "skip" and self.jobs is None and job_no_before != job_no_after


class TaskProgress(BaseModel):
    phase: Phase = Phase.QUEUED
    job_no: int = Field(default=0, description="Jobs finished so far (0-based index of the running job).")
    job_count: int = 1
    step: int = 0
    steps: int = 0
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    eta_s: float | None = Field(default=None, description="Seconds left; None until it can be estimated.")
    elapsed_s: float = 0.0
    textinfo: str = ""


class ImageRef(BaseModel):
    index: int = Field(description="Position of the image in the task, 0-based.")
    job_no: int
    seed: int
    path: str = Field(description="Path of the PNG, relative to the data directory.")
    width: int
    height: int
    partial: bool = Field(default=False, description="True when decoded from an interrupted job's estimate.")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="Other outputs of this image, relative to the data directory: 'raw' (the model's own image when "
        "the pixel-art stage ran), 'upscaled', 'gpl', 'hex', 'manifest'.",
    )


class TaskStats(BaseModel):
    """Performance statistics shown after each run (A1111's time / VRAM / RAM line, per phase)."""

    device: str = "cpu"
    total_s: float = 0.0
    phases_s: dict[str, float] = Field(default_factory=dict)
    steps_run: int = 0
    step_time_s: float | None = Field(default=None, description="Median seconds per denoising step.")
    peak_vram_allocated_mb: float | None = None
    peak_vram_reserved_mb: float | None = None
    peak_rss_mb: float | None = None


class ResolvedParams(BaseModel):
    """What a task actually ran with: its parameters after the model filled in its own defaults."""

    # Rows written before this model existed carry more keys (aliases, the sheet path): ignored.
    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="Name of the model that ran.")
    steps: int
    cfg_scale: float
    width: int = Field(description="Width the model drew at.")
    height: int = Field(description="Height the model drew at.")
    scale: int = Field(default=1, description="Whole factor the images were scaled up by (nearest) to the size asked "
                       "for, when the model draws at a native size (the sprite model's 32×32); 1 otherwise.")
    seed: int = Field(description="Seed of the first image; image i uses seed + i.")
    sampler_name: str = Field(description="The scheduler under A1111's name for it (e.g. 'Euler').")
    lora: str | None = None
    lora_scale: float | None = Field(default=None, description="Set when a LoRA ran.")
    denoising_strength: float | None = Field(default=None, description="Set on img2img tasks.")
    prompt_used: str = Field(description="The prompt as sent to the pipeline (with the preset's trigger words).")
    pixel: PixelOptions | None = Field(default=None, description="Pixel-art options the stage ran with, if it ran.")


class TaskInputs(BaseModel):
    """Images a task was given, stored by the task as PNG files (never inline in events or rows)."""

    init_image: str = Field(description="Path of the init image, relative to the data directory.")
    mask: str | None = Field(default=None, description="Path of the mask (white = repaint), relative to the data "
                             "directory; None: img2img of the whole image.")
    bytes: int = Field(default=0, ge=0, description="What its files take on disk (counted against the owner's "
                       "max_input_bytes_per_identity; 0 for tasks stored before it was counted).")

    def files(self) -> list[str]:
        return [self.init_image, *([self.mask] if self.mask else [])]


class JobClaim(BaseModel):
    """One job of a task whose batch's jobs run on several workers at once (``split_batches``): what a worker
    claimed. A task claimed whole has none."""

    job_no: int
    starts_task: bool = Field(description="This claim started the task (its first job to run).")
    failed: str | None = Field(
        default=None, description="The job's workers kept dying: end it failed with this, without running it.")


class TaskOrigin(BaseModel):
    """How a task came to be, beyond what to draw: what a retry and the end's notice need."""

    random_seed: bool = Field(default=False, description="The seed was -1 (the server picked it): a retry picks a "
                              "new one.")
    retried_from: str | None = Field(default=None, description="The task this one retries.")
    callback_url: str | None = Field(default=None, description="Where the server POSTs the task's view when it "
                                     "ends.")


class Task(BaseModel):
    id: str
    type: str = "txt2img"
    owner: str = "local"
    params: TaskParams
    inputs: TaskInputs | None = Field(default=None, description="Set on img2img tasks.")
    origin: TaskOrigin = Field(default_factory=TaskOrigin)
    state: TaskState = TaskState.QUEUED
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: TaskProgress = Field(default_factory=TaskProgress)
    images: list[ImageRef] = Field(default_factory=list)
    stats: TaskStats | None = None
    error: str | None = None
    stop_reason: str | None = None
    stop_request: StopRequest | None = None
    resolved: ResolvedParams | None = Field(default=None, description="Set once the task has run.")
    sprite_sheet: str | None = Field(
        default=None, description="Path of the batch's sprite sheet, relative to the data directory.")
    position: int | None = Field(default=None, description="1-based place in the queue while queued.")
    queue_size: int | None = Field(default=None, description="Queued tasks in total while queued.")
    starts_in_s: float | None = Field(default=None, description="While queued: seconds until it likely starts, "
                                      "when the work ahead can be estimated (the service fills it in; never stored).")
    claim: JobClaim | None = Field(
        default=None, exclude=True, description="Set on a task a worker claimed one job of; never stored or shown.")

    @property
    def error_code(self) -> ErrorCode | None:
        """The machine code of its error, when it has one."""
        if self.error is None:
            return None
        return ErrorCode.SERVER_RESTART if self.stop_reason == "restart" else ErrorCode.TASK_FAILED

    def info_view(self) -> dict[str, Any]:
        """The resolved parameters as the HTTP API's ``info`` and the CLI's ``--json`` have always shown
        them: flat, with A1111's ``sd_model_name`` beside ``model`` and the sheet path when there is one."""
        if self.resolved is None:
            return {}
        view = self.resolved.model_dump(mode="json")
        view["sd_model_name"] = self.resolved.model
        if self.sprite_sheet:
            view["sprite_sheet"] = self.sprite_sheet
        view["adjusted_fields"] = self.adjusted_fields()
        return view

    def adjusted_fields(self) -> dict[str, list[int]]:
        """Sides the model drew at another size than asked for, as ``[asked, drawn]`` (a model with a
        native size draws at it; its images are scaled up to the asked size)."""
        resolved = self.resolved
        if resolved is None or resolved.scale == 1:
            return {}
        return {"width": [resolved.width * resolved.scale, resolved.width],
                "height": [resolved.height * resolved.scale, resolved.height]}


class TaskEnd(BaseModel):
    """How a run ended, as the worker reports it: stored with the terminal event in one write."""

    state: TaskState
    progress: TaskProgress | None = Field(default=None, description="Final progress (a completed task's 1.0).")
    stats: TaskStats | None = None
    error: str | None = None
    stop_reason: str | None = None
    resolved: ResolvedParams | None = Field(default=None, description="Known once the model has loaded.")
    sprite_sheet: str | None = None
    worker_id: str | None = Field(
        default=None, description="The worker reporting it: a distributed store refuses the end from a worker "
        "whose task another worker took over (TaskTakenOver), so a stalled worker never ends a rerun.")
    job_no: int | None = Field(
        default=None, description="The job this end is of, when the task's jobs run on several workers at once.")
    storage_fault: bool = Field(
        default=False, description="It failed because its files or records could not be written (a full, "
        "read-only or failing disk): the worker's health counts such failures.")


class WorkerHealth(BaseModel):
    """How one worker is doing, for the health route: a dead or stuck worker makes the server unhealthy."""

    worker_id: str
    alive: bool = Field(description="False when the worker's thread has ended while the server runs.")
    task_id: str | None = Field(default=None, description="The task it runs now.")
    stuck: bool = Field(default=False, description="Busy with no sign of progress for longer than allowed.")
    last_error: str | None = Field(default=None, description="The last error the worker itself hit (not a task's).")
    problem: str | None = Field(
        default=None, description="Why it cannot do its work now (it cannot store a task's end, its recent tasks all "
        "failed on storage): the server is unhealthy while it says so.")


class WorkerInfo(BaseModel):
    """What a worker of a distributed deployment says about itself with every heartbeat."""

    worker_id: str
    device: str = Field(description="The device it runs on, e.g. 'cpu' or 'cuda:0'.")
    models: list[str] = Field(default_factory=list, description="Models it holds loaded now (or loads first).")
    task_id: str | None = Field(default=None, description="The task it runs now.")
    heartbeat_at: float = Field(default_factory=time.time, description="Unix time of its last heartbeat.")
    alive: bool = Field(default=True, description="False when its task loop has ended while its process beats on.")
    stuck: bool = Field(default=False, description="Busy with no sign of progress for longer than allowed.")
    last_error: str | None = Field(default=None, description="The last error the worker itself hit (not a task's).")
    problem: str | None = Field(
        default=None, description="Why it cannot do its work now (it cannot store a task's end, its recent tasks all "
        "failed on storage, it cannot reach Redis).")
