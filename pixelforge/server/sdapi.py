"""The AUTOMATIC1111-compatible API (``/sdapi/v1`` and ``/internal``), so existing clients work
unchanged. Behind the old wire format every request is an ordinary task: queued like any other,
owned by the caller, and interrupt / skip / progress act on the caller's own task only."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from pydantic import ValidationError

import pixelforge
from pixelforge.backends.fingerprint import short_hash, weights_sha256
from pixelforge.backends.presets import list_models
from pixelforge.server.auth import Identity
from pixelforge.server.client_gone import await_end_or_stop
from pixelforge.server.deps import Caller, Service, State, owned_task
from pixelforge.server.errors import problem_errors, validation_response
from pixelforge.server.images import as_asked_kind, data_file, image_path, png_parameters
from pixelforge.server.model_roots import ModelRoots, Unreachable
from pixelforge.server.options import OptionsRefused
from pixelforge.server.sdapi_models import (
    HARMLESS,
    SAMPLER,
    TXT2IMG_DEFAULTS,
    USED_FIELDS,
    InternalProgressRequest,
    InternalProgressResponse,
    Lora,
    PendingTasks,
    ProgressResponse,
    ProgressState,
    Sampler,
    Scheduler,
    ScriptsList,
    SdModel,
    StopAnswer,
    Txt2ImgRequest,
    Txt2ImgResponse,
)
from pixelforge.server.task_ids import owner_shown_id, shown_id, stored_id
from pixelforge.shown_paths import shown_path
from pixelforge.tasks.infotext import task_infotexts
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import TASK_ID_PATTERN, Task, TaskParams, TaskState
from pixelforge.tasks.service import InvalidTask, TaskService
from pixelforge.tasks.store import TaskExists

router = APIRouter(tags=["automatic1111"])

# TaskParams fields under the names A1111 requests use, for error messages.
A1111_NAMES = {"batch_count": "n_iter", "model": "sd_model_checkpoint", "init_image": "init_images"}


class A1111Invalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


def _round16(value: int | None) -> int | None:
    # Integer arithmetic: a float division overflows on the huge numbers JSON allows.
    return None if value is None else max(16, (value + 8) // 16 * 16)


def _model_name(spec: object, roots: ModelRoots) -> str:
    """The model an A1111 checkpoint title names (titles may carry a ' [hash]' suffix), confined to
    the roots like every model a client names."""
    if not isinstance(spec, str) or not spec:
        raise A1111Invalid([{"loc": ("body", "sd_model_checkpoint"), "msg": "must be a model title or name",
                             "type": "string_type"}])
    name = spec.rsplit(" [", 1)[0] if spec.endswith("]") else spec
    try:
        return roots.model(name)
    except Unreachable as exc:
        raise A1111Invalid([{"loc": ("body", "sd_model_checkpoint"), "msg": str(exc), "type": "model"}]) from None


def to_params(
    body: Txt2ImgRequest, options: dict[str, Any], roots: ModelRoots
) -> tuple[TaskParams, dict[str, Any]]:
    """TaskParams for the request, plus the notes for ``info`` (adjusted and ignored fields); img2img's
    route (``sdapi_img2img``) starts from it too."""
    sent = body.model_dump(exclude_unset=True)
    checkpoint = (body.override_settings or {}).get("sd_model_checkpoint") or options.get("sd_model_checkpoint")
    fields = {
        "prompt": body.prompt, "negative_prompt": body.negative_prompt, "seed": body.seed, "steps": body.steps,
        "cfg_scale": body.cfg_scale, "width": _round16(body.width), "height": _round16(body.height),
        "batch_count": body.n_iter, "batch_size": body.batch_size,
        "model": _model_name(checkpoint, roots) if checkpoint else None,
    }
    try:
        params = TaskParams(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise A1111Invalid([
            {"loc": ("body", *(A1111_NAMES.get(str(p), p) for p in e["loc"])), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]) from None
    adjusted: dict[str, list[Any]] = {
        k: [sent[k], fields[k]] for k in ("width", "height") if k in sent and sent[k] != fields[k]}
    sampler = body.sampler_name or body.sampler_index
    ignored = sorted(k for k, v in sent.items() if k not in USED_FIELDS and (k not in HARMLESS or v != HARMLESS[k]))
    extra_overrides = sorted(set(body.override_settings or {}) - {"sd_model_checkpoint"})
    ignored += [f"override_settings.{k}" for k in extra_overrides]
    if sampler not in (None, SAMPLER):
        adjusted["sampler_name"] = [sampler, SAMPLER]
    return params, {"ignored_fields": ignored, "adjusted_fields": adjusted}


def _read_images(data_dir: Path, task: Task, send: bool) -> tuple[list[str], list[str]]:
    """Base64 PNGs (when asked for) at the size asked for (``as_asked_kind``; the 1× image stays at the
    native image URL) and each image's infotext from its own ``parameters`` chunk."""
    images, infotexts = [], []
    fallback = task_infotexts(task)
    for n, ref in enumerate(task.images):
        path = image_path(data_dir, ref)
        infotexts.append(png_parameters(path) or fallback[n])
        if send:
            kind = as_asked_kind(task, ref)
            shown = data_file(data_dir, ref.files[kind], f"{kind} image") if kind else path
            images.append(base64.b64encode(shown.read_bytes()).decode())
    return images, infotexts


def _info(task: Task, infotexts: list[str], notes: dict[str, Any], viewer: str) -> dict[str, Any]:
    params, resolved = task.params, task.resolved
    seeds = [ref.seed for ref in task.images] or [params.seed]
    count = max(1, len(task.images))
    started = task.started_at or task.created_at
    return {
        "prompt": params.prompt,
        "all_prompts": [params.prompt] * count,
        "negative_prompt": params.negative_prompt,
        "all_negative_prompts": [params.negative_prompt] * count,
        "seed": seeds[0],
        "all_seeds": seeds,
        "subseed": -1,
        "all_subseeds": [-1] * len(seeds),
        "subseed_strength": 0,
        "width": resolved.width if resolved else params.width,
        "height": resolved.height if resolved else params.height,
        "sampler_name": resolved.sampler_name if resolved else SAMPLER,
        "cfg_scale": resolved.cfg_scale if resolved else params.cfg_scale,
        "steps": resolved.steps if resolved else params.steps,
        "batch_size": params.batch_size,
        "restore_faces": False,
        "sd_model_name": resolved.model if resolved else params.model,
        "sd_model_hash": None,
        "seed_resize_from_w": -1,
        "seed_resize_from_h": -1,
        "denoising_strength": params.img2img.denoising_strength if params.img2img else None,
        "extra_generation_params": {},
        "index_of_first_image": 0,
        "infotexts": infotexts,
        "styles": [],
        "job_timestamp": time.strftime("%Y%m%d%H%M%S", time.localtime(started)),
        "clip_skip": 1,
        "is_using_inpainting_conditioning": False,
        "version": f"pixelforge {pixelforge.__version__}",
        "task_id": shown_id(task, viewer),
        "state": task.state.value,
        "stop_reason": task.stop_reason,
        **notes,
        "adjusted_fields": _adjusted(notes["adjusted_fields"], task),
    }


def _adjusted(requested: dict[str, list[Any]], task: Task) -> dict[str, list[Any]]:
    """What changed from the request, as ``[sent, used]``: the rounding done here, then the size a
    model with a native size drew at (its images come back scaled to the size asked for)."""
    adjusted = dict(requested)
    for name, (asked, drawn) in task.adjusted_fields().items():
        adjusted[name] = [adjusted.get(name, [asked])[0], drawn]
    return adjusted


@router.post("/sdapi/v1/txt2img", summary="Generate (blocking), A1111 style")
async def txt2img(body: Txt2ImgRequest, request: Request, state: State, caller: Caller) -> Txt2ImgResponse:
    """Blocks until the task ends; a client that disconnects meanwhile stops it."""
    params, notes = await asyncio.to_thread(to_params, body, state.options.get(caller.owner), state.roots)
    return await generate(request, body, params, notes, state, caller, TXT2IMG_DEFAULTS)


async def generate(
    request: Request,
    body: Txt2ImgRequest,
    params: TaskParams,
    notes: dict[str, Any],
    state: State,
    caller: Identity,
    defaults: dict[str, Any],
    images: ImageUpload | None = None,
) -> Txt2ImgResponse:
    """Run the request as a task of the caller's (img2img with ``images``) and answer in A1111's shape; the
    task is interrupted if the client disconnects before it ends."""
    if body.force_task_id is not None and not TASK_ID_PATTERN.match(body.force_task_id):
        raise A1111Invalid([{"loc": ("body", "force_task_id"), "msg": "1-128 of A-Z a-z 0-9 _ - ( ) . :",
                             "type": "pattern"}])
    task_id = stored_id(caller.owner, body.force_task_id) if body.force_task_id else None

    def submit() -> Task:
        try:
            return state.service.submit(params, owner=caller.owner, task_id=task_id, images=images)
        except TaskExists:  # only ever the caller's own: ids are per identity
            raise TaskExists(body.force_task_id or "") from None
        except InvalidTask as exc:  # report limits under the A1111 names the client used
            raise A1111Invalid(problem_errors(exc.problems, A1111_NAMES)) from None

    task = await asyncio.to_thread(submit)
    task = await await_end_or_stop(request, state.service, task.id)
    if task.state is TaskState.FAILED:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, detail=f"generation failed: {task.error}")
    sent_images, infotexts = await asyncio.to_thread(_read_images, state.settings.data_dir, task, body.send_images)
    reply = _info(task, infotexts, notes, caller.owner)
    # What the client sent, as sent; what it left out, as actually used (not A1111's defaults,
    # which would misreport the model's own steps, size and CFG).
    echoed = {**defaults, **body.echo()}
    used = ("width", "height", "steps", "cfg_scale")
    echoed.update({key: reply[key] for key in used if key not in body.model_fields_set})
    return Txt2ImgResponse(images=sent_images, parameters=echoed, info=json.dumps(reply))


def _own_current(service: TaskService, caller: Identity) -> Task | None:
    """The caller's running task, else the caller's next queued one."""
    running = _running_own(service, caller)
    if running:
        return running[0]
    queued = service.store.queued_ids(caller.owner)
    return service.get(queued[0]) if queued else None


@router.get("/sdapi/v1/progress", summary="Progress of your current task")
def progress(
    service: Service,
    caller: Caller,
    skip_current_image: Annotated[bool, Query(description="Leave out the live preview.")] = False,
) -> ProgressResponse:
    task = _own_current(service, caller)
    if task is None:
        idle = ProgressState(skipped=False, interrupted=False, stopping_generation=False, job="", job_count=0,
                             job_timestamp="0", job_no=0, sampling_step=0, sampling_steps=0)
        return ProgressResponse(progress=0.0, eta_relative=0.0, state=idle, current_image=None, textinfo=None)
    p, stop = task.progress, task.stop_request
    current = None
    if not skip_current_image and task.state is TaskState.RUNNING:
        found = service.store.get_preview(task.id)
        current = base64.b64encode(found[1]).decode() if found else None
    started = task.started_at or task.created_at
    return ProgressResponse(
        progress=p.progress,
        eta_relative=p.eta_s or 0.0,
        state=ProgressState(
            skipped=stop is not None and stop.action == "skip",
            interrupted=stop is not None and stop.action == "interrupt",
            stopping_generation=False,
            job=shown_id(task, caller.owner),
            job_count=p.job_count,
            job_timestamp=time.strftime("%Y%m%d%H%M%S", time.localtime(started)),
            job_no=p.job_no,
            sampling_step=p.step,
            sampling_steps=p.steps,
        ),
        current_image=current,
        textinfo=p.textinfo or None,
    )


def _running_own(service: TaskService, caller: Identity) -> list[Task]:
    return service.list(owner=caller.owner, states=[TaskState.RUNNING], limit=100)


NOTHING_TO_STOP = "nothing of yours is running"


@router.post("/sdapi/v1/interrupt", summary="Interrupt your running task, keeping its partial image as A1111 does",
             response_model_exclude_none=True)
def interrupt(service: Service, caller: Caller) -> StopAnswer:
    running = _running_own(service, caller)
    for task in running:
        service.interrupt(task.id, keep_partial=True)
    # A1111 answers {}; a client that reads it gets the same, plus why nothing happened when nothing did.
    return StopAnswer() if running else StopAnswer(detail=NOTHING_TO_STOP)


@router.post("/sdapi/v1/skip", summary="Skip the current job of your running task, keeping its partial image as "
             "A1111 does")
def skip(service: Service, caller: Caller) -> StopAnswer | None:
    running = _running_own(service, caller)
    for task in running:
        service.skip(task.id, keep_partial=True)
    return None if running else StopAnswer(detail=NOTHING_TO_STOP)


@router.post("/internal/progress", summary="Progress of one task, with live preview handshake")
def internal_progress(body: InternalProgressRequest, service: Service, caller: Caller) -> InternalProgressResponse:
    try:
        task = owned_task(service, caller, body.id_task) if body.id_task else None
    except HTTPException:
        task = None  # A1111 answers "Waiting..." for ids it does not know yet (the client makes them)
    if task is None:
        return InternalProgressResponse(active=False, queued=False, completed=False, id_live_preview=-1,
                                        textinfo="Waiting...")
    p = task.progress
    if task.state is TaskState.QUEUED:
        return InternalProgressResponse(active=False, queued=True, completed=False, id_live_preview=-1,
                                        textinfo=f"In queue: {task.position}/{task.queue_size}")
    if task.state.is_terminal:
        done = task.state is TaskState.COMPLETED
        return InternalProgressResponse(active=False, queued=False, completed=True,
                                        progress=1.0 if done else p.progress, eta=0.0 if done else None,
                                        id_live_preview=body.id_live_preview, textinfo=p.textinfo or None)
    preview_id, live = body.id_live_preview, None
    found = service.store.get_preview(task.id) if body.live_preview else None
    if found is not None and found[0] != body.id_live_preview:
        preview_id = found[0]
        live = f"data:{found[2]};base64,{base64.b64encode(found[1]).decode()}"
    return InternalProgressResponse(active=True, queued=False, completed=False, progress=p.progress, eta=p.eta_s,
                                    live_preview=live, id_live_preview=preview_id, textinfo=p.textinfo or None)


@router.get("/internal/pending-tasks", summary="Queued tasks (yours listed)")
def pending_tasks(service: Service, caller: Caller) -> PendingTasks:
    queued, mine = service.store.queued_ids(), set(service.store.queued_ids(caller.owner))
    visible = [owner_shown_id(task_id) if task_id in mine else task_id
               for task_id in queued if caller.admin or task_id in mine]
    return PendingTasks(size=len(queued), tasks=visible)


def _defaults(state: State) -> dict[str, Any]:
    settings = state.settings
    return {
        "sd_model_checkpoint": settings.model,
        "samples_format": "png",
        "live_previews_enable": settings.preview_every > 0,
        "show_progress_every_n_steps": settings.preview_every,
        "live_previews_image_format": settings.preview_format,
        "show_progress_type": "Approx cheap",
        "CLIP_stop_at_last_layers": 1,
        "sd_vae": "Automatic",
        "eta_noise_seed_delta": 0,
    }


@router.get("/sdapi/v1/options", summary="Options (yours over the server's)")
def get_options(state: State, caller: Caller) -> dict[str, Any]:
    options = {**_defaults(state), **state.options.get(caller.owner)}
    # A1111 names the checkpoint by its title, which clients compare with the titles sd-models lists.
    checkpoint = options["sd_model_checkpoint"]
    titles = {model.model_name: model.title for model in _listed_models(state)}
    options["sd_model_checkpoint"] = titles.get(checkpoint, checkpoint)
    return options


@router.post("/sdapi/v1/options", summary="Set options for your own requests")
def set_options(
    state: State, caller: Caller, body: Annotated[dict[str, Any], Body(description="Options to set.")]
) -> None:
    """Only sd_model_checkpoint has an effect (the model of your later txt2img requests); other
    options are remembered and echoed by GET, and null resets one. They apply to the caller alone,
    never to everyone, and are bounded (64 options, 16 KiB per identity). Answers null, as A1111 does."""
    if body.get("sd_model_checkpoint") is not None:
        body = {**body, "sd_model_checkpoint": _model_name(body["sd_model_checkpoint"], state.roots)}
    try:
        state.options.update(caller.owner, body)
    except OptionsRefused as exc:
        raise A1111Invalid([{"loc": ("body",), "msg": str(exc), "type": "limit"}]) from None


@router.get("/sdapi/v1/sd-models", summary="Models available here")
def sd_models(state: State, caller: Caller) -> list[SdModel]:
    return _listed_models(state)


def _listed_models(state: State) -> list[SdModel]:
    return [_sd_model(m.name, Path(m.source), shown_path(m.source, state.settings))
            for m in list_models(state.settings) if m.available]


def _sd_model(name: str, weights: Path, filename: str) -> SdModel:
    """A1111's entry: the title carries the short hash, which clients send back as sd_model_checkpoint; the
    file name is relative to its root (shown_paths)."""
    sha256 = weights_sha256(weights)
    if sha256 is None:
        return SdModel(title=name, model_name=name, filename=filename)
    short = short_hash(sha256)
    return SdModel(title=f"{name} [{short}]", model_name=name, hash=short, sha256=sha256, filename=filename)


@router.get("/sdapi/v1/samplers")
def samplers(caller: Caller) -> list[Sampler]:
    return [Sampler(name=SAMPLER, aliases=["euler", "k_euler", "flow_match_euler"], options={})]


@router.get("/sdapi/v1/schedulers")
def schedulers(caller: Caller) -> list[Scheduler]:
    return [Scheduler(name="automatic", label="Automatic")]


@router.get("/sdapi/v1/scripts")
def scripts(caller: Caller) -> ScriptsList:
    return ScriptsList()


@router.get("/sdapi/v1/loras", summary="LoRA files in the LoRA folder")
def loras(state: State, caller: Caller) -> list[Lora]:
    folder = state.settings.loras_root
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    return [Lora(name=f.stem, alias=f.stem, path=str(f)) for f in files]


async def on_a1111_invalid(_: Any, exc: Exception) -> Any:
    assert isinstance(exc, A1111Invalid)
    return validation_response(exc.errors)

