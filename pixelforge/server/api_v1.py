"""The native API: tasks with handles, stop controls, images, previews, the queue, models, health.

Routes are plain ``def``: the store is synchronous, so FastAPI runs them in its thread pool and the
event loop stays free for the SSE streams.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, HTTPException, Path, Query, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import ValidationError

import pixelforge
from pixelforge.backends.presets import ModelEntry, ModelNotFound, PromptWords, list_models, prompt_words
from pixelforge.server.deps import DB_INT_MAX, AppSettings, Caller, Service, State, owned_task
from pixelforge.server.images import OUTPUT_MEDIA_TYPES, data_file, find_image, image_path, scaled_png
from pixelforge.server.json_shape import json_shape_problem
from pixelforge.server.schemas import (
    HealthOut,
    InterruptRequest,
    Message,
    QueuedOut,
    QueueOut,
    RunningOut,
    SkipRequest,
    TaskCreate,
    TaskOut,
    TaskPage,
    UploadParams,
    WorkerOut,
)
from pixelforge.server.task_ids import owner_shown_id, shown_id, stored_id
from pixelforge.server.uploads import base64_upload
from pixelforge.shown_paths import shown_path
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import TaskOrigin, TaskState, WorkerInfo
from pixelforge.tasks.store import TaskExists

router = APIRouter(prefix="/api/v1")

TaskId = Annotated[str, Path(description="Task id.")]
# FastAPI's type of a route's ``responses``: OpenAPI fields by status code.
Responses = dict[int | str, dict[str, Any]]
NOT_YOURS: Responses = {404: {"model": Message, "description": "No such task, or not yours."}}


SUBMIT_RESPONSES: Responses = {
    409: {"model": Message, "description": "A task with the requested id exists."},
    422: {"model": Message, "description": "Bad parameters, or an image that is not one, is too large or is cut off "
          "(nothing was stored)."},
    429: {"model": Message, "description": "Queue limit reached; see Retry-After."},
    507: {"model": Message, "description": "The server's disk is full; nothing was stored."},
}


def _submit(state: State, caller: Caller, body: UploadParams, images: ImageUpload | None) -> TaskOut:
    """Queue limits are enforced by the service, inside the store's own transaction."""
    params = state.roots.params(body.params())
    task_id = stored_id(caller.owner, body.id) if body.id else None
    try:
        task = state.service.submit(params, owner=caller.owner, task_id=task_id, images=images,
                                    origin=TaskOrigin(callback_url=body.callback_url))
    except TaskExists:  # only ever the caller's own: ids are per identity
        raise TaskExists(body.id or "") from None
    return TaskOut.of(task, caller.owner)


@router.post("/tasks", status_code=status.HTTP_201_CREATED, tags=["tasks"], summary="Submit a task",
             responses=SUBMIT_RESPONSES)
def create_task(body: TaskCreate, state: State, caller: Caller) -> TaskOut:
    """txt2img; with ``init_image`` (base64), img2img; with ``mask`` too, inpainting."""
    return _submit(state, caller, body, base64_upload(body.init_image, body.mask))


@router.post("/tasks/upload", status_code=status.HTTP_201_CREATED, tags=["tasks"],
             summary="Submit an img2img task with its images as file uploads", responses=SUBMIT_RESPONSES)
def upload_task(
    state: State,
    caller: Caller,
    init_image: Annotated[UploadFile, File(description="The image to start from (PNG, JPEG, WebP, GIF, BMP).")],
    mask: Annotated[UploadFile | None, File(description="Inpainting mask of the same size; white = repaint.")]
    = None,
    params: Annotated[str, Form(description="The task's parameters as JSON, as for POST /api/v1/tasks (without "
                                "the images).")] = "{}",
) -> TaskOut:
    """multipart/form-data: the same task as POST /api/v1/tasks with base64 images, for clients that have files."""
    shape_problem = json_shape_problem(params.encode())
    if shape_problem is not None:  # as for a JSON body (json_shape), before validation
        raise RequestValidationError([{"loc": ("body", "params"), "msg": shape_problem, "type": "json_shape"}])
    try:
        body = UploadParams.model_validate_json(params)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "params", *e["loc"])} for e in exc.errors(include_url=False)]) from None
    upload = ImageUpload(init_image=init_image.file.read(), mask=mask.file.read() if mask is not None else None)
    return _submit(state, caller, body, upload)


@router.get("/tasks", tags=["tasks"], summary="Your queue and history")
def list_tasks(
    service: Service,
    caller: Caller,
    state: Annotated[list[TaskState] | None, Query(description="Only tasks in these states (repeatable).")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX, description="Tasks to skip (newest first).")] = 0,
    scope: Annotated[Literal["mine", "all"], Query(description="'all' lists every identity's tasks (admins).")]
    = "mine",
) -> TaskPage:
    if scope == "all" and not caller.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins may list every identity's tasks")
    owner = None if scope == "all" else caller.owner
    tasks = service.list(owner=owner, states=state, limit=limit, offset=offset)
    total = service.store.count(owner=owner, states=state)
    return TaskPage(tasks=[TaskOut.of(t, caller.owner) for t in tasks], total=total, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", tags=["tasks"], summary="One task", responses=NOT_YOURS)
def get_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    return TaskOut.of(owned_task(service, caller, task_id), caller.owner)


@router.post("/tasks/{task_id}/interrupt", tags=["control"], summary="Stop the task", responses=NOT_YOURS)
def interrupt_task(
    task_id: TaskId,
    service: Service,
    caller: Caller,
    body: Annotated[InterruptRequest | None, Body(description="Optional; keep_partial defaults to false, when to "
                                                  "'now'.")] = None,
) -> TaskOut:
    """A queued task is cancelled; a running one stops within milliseconds (finished images stay), or with
    ``{"when": "after_job"}`` once its running job has finished (that job's images stay too); a finished one is
    returned unchanged."""
    task = owned_task(service, caller, task_id)
    body = body or InterruptRequest()
    return TaskOut.of(service.interrupt(task.id, keep_partial=body.keep_partial, when=body.when), caller.owner)


@router.post("/tasks/{task_id}/skip", tags=["control"], summary="Skip the current job", responses=NOT_YOURS)
def skip_task(
    task_id: TaskId,
    service: Service,
    caller: Caller,
    body: Annotated[SkipRequest | None, Body(description="Optional; keep_partial defaults to false.")] = None,
) -> TaskOut:
    """Ends the running job (image batch) early and moves on to the next job of the task."""
    task = owned_task(service, caller, task_id)
    return TaskOut.of(service.skip(task.id, keep_partial=body.keep_partial if body else False), caller.owner)


@router.delete("/tasks/{task_id}", tags=["control"], summary="Cancel or interrupt", responses=NOT_YOURS)
def cancel_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    """Cancels a queued task, interrupts a running one (discarding its unfinished image)."""
    task = owned_task(service, caller, task_id)
    return TaskOut.of(service.cancel(task.id), caller.owner)


@router.get(
    "/tasks/{task_id}/inputs/{kind}.png",
    tags=["images"],
    summary="An img2img task's init image or mask, as stored: PNG, or the JPEG or WebP file the client sent",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}, **NOT_YOURS},
)
def get_input(
    task_id: TaskId,
    kind: Annotated[str, Path(description="init_image or mask.")],
    service: Service,
    settings: AppSettings,
    caller: Caller,
) -> Response:
    inputs = owned_task(service, caller, task_id).inputs
    relative = getattr(inputs, kind) if inputs is not None and kind in ("init_image", "mask") else None
    if relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task {task_id} has no {kind}")
    path = data_file(settings.data_dir, relative, f"the {kind}")
    # The media type follows the stored file's suffix (.png, .jpg, .webp).
    return FileResponse(path, headers={"Cache-Control": "private, max-age=31536000"})


@router.get(
    "/tasks/{task_id}/images/{index}.png",
    tags=["images"],
    summary="A finished image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **NOT_YOURS},
)
def get_image(
    task_id: TaskId,
    index: Annotated[int, Path(ge=0, le=DB_INT_MAX, description="Image index in the task, 0-based.")],
    service: Service,
    settings: AppSettings,
    caller: Caller,
    scale: Annotated[int, Query(ge=1, description="Nearest-neighbour upscale factor (crisp pixels).")] = 1,
) -> Response:
    if scale > settings.max_image_scale:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"scale: at most {settings.max_image_scale}, got {scale}"
        )
    path = image_path(settings.data_dir, find_image(owned_task(service, caller, task_id), index))
    # Finished images never change, so clients and proxies may keep them.
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    if scale == 1:
        return FileResponse(path, media_type="image/png", headers=headers)
    return Response(scaled_png(path, scale), media_type="image/png", headers=headers)


@router.get(
    "/tasks/{task_id}/images/{index}/{kind}",
    tags=["images"],
    summary="Another output of an image (raw, upscaled, palette, manifest)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in set(OUTPUT_MEDIA_TYPES.values())}}, **NOT_YOURS},
)
def get_image_file(
    task_id: TaskId,
    index: Annotated[int, Path(ge=0, le=DB_INT_MAX, description="Image index in the task, 0-based.")],
    kind: Annotated[str, Path(description="One of the keys of the image's 'files'.")],
    service: Service,
    settings: AppSettings,
    caller: Caller,
) -> Response:
    ref = find_image(owned_task(service, caller, task_id), index)
    if kind not in ref.files:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"image {index} has no {kind!r} output")
    path = data_file(settings.data_dir, ref.files[kind], f"the {kind} output of image {index}")
    media_type = OUTPUT_MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=31536000"})


@router.get(
    "/tasks/{task_id}/sheet.png",
    tags=["images"],
    summary="Sprite sheet of a batch",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **NOT_YOURS},
)
def get_sheet(task_id: TaskId, service: Service, settings: AppSettings, caller: Caller) -> Response:
    sheet = owned_task(service, caller, task_id).sprite_sheet
    if not sheet:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task {task_id} has no sprite sheet")
    return FileResponse(data_file(settings.data_dir, sheet, "the sprite sheet"), media_type="image/png")


def _preview(service: Service, caller: Caller, task_id: str, preview_id: int | None) -> Response:
    task = owned_task(service, caller, task_id)
    found = service.store.get_preview(task.id, preview_id)
    if found is None:
        which = "no preview yet" if preview_id is None else f"preview {preview_id} is gone or never existed"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task {task_id}: {which}")
    found_id, data, media_type = found
    cache = "no-store" if preview_id is None else "private, max-age=3600, immutable"
    return Response(data, media_type=media_type, headers={"X-Preview-Id": str(found_id), "Cache-Control": cache})


PREVIEW_RESPONSES: Responses = {200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}, **NOT_YOURS}


@router.get(
    "/tasks/{task_id}/previews/latest",
    tags=["images"],
    summary="The newest live preview",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
)
def latest_preview(task_id: TaskId, service: Service, caller: Caller) -> Response:
    """The X-Preview-Id header says which preview this is."""
    return _preview(service, caller, task_id, None)


@router.get(
    "/tasks/{task_id}/previews/{preview_id}",
    tags=["images"],
    summary="A live preview by id (from a preview event)",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
)
def preview_by_id(
    task_id: TaskId,
    preview_id: Annotated[int, Path(ge=0, le=DB_INT_MAX, description="The id a preview event announced.")],
    service: Service,
    caller: Caller,
) -> Response:
    return _preview(service, caller, task_id, preview_id)


@router.get("/queue", tags=["queue"], summary="The queue as you may see it")
def get_queue(service: Service, caller: Caller) -> QueueOut:
    running = [
        RunningOut(
            id=shown_id(t, caller.owner) if caller.can_access(t.owner) else None,
            mine=t.owner == caller.owner,
            progress=t.progress.progress,
            eta_s=t.progress.eta_s,
        )
        for t in service.list(states=[TaskState.RUNNING], limit=100)
    ]
    # Ids only, never the tasks themselves: a long queue costs two index reads, not a thousand rows parsed.
    queued, mine = service.store.queued_ids(), set(service.store.queued_ids(caller.owner))
    return QueueOut(
        paused=service.store.is_paused(),
        pending=len(queued),
        running=running,
        mine=[QueuedOut(id=owner_shown_id(task_id), position=n)
              for n, task_id in enumerate(queued, start=1) if task_id in mine],
    )


def _set_paused(service: Service, caller: Caller, paused: bool) -> QueueOut:
    if not caller.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins may pause or resume the queue")
    service.store.set_paused(paused)
    return get_queue(service, caller)


@router.post("/queue/pause", tags=["queue"], summary="Pause the queue (admins)", responses={403: {"model": Message}})
def pause_queue(service: Service, caller: Caller) -> QueueOut:
    """Queued tasks wait; a running task finishes."""
    return _set_paused(service, caller, True)


@router.post("/queue/resume", tags=["queue"], summary="Resume the queue (admins)", responses={403: {"model": Message}})
def resume_queue(service: Service, caller: Caller) -> QueueOut:
    return _set_paused(service, caller, False)


@router.get(
    "/health",
    tags=["server"],
    summary="Liveness, workers and queue summary (no identity needed)",
    responses={503: {"model": HealthOut, "description": "A worker is dead, stuck or has a problem (its "
                                                       "`problem` says which), or there is none."}},
)
def health(state: State, response: Response) -> HealthOut:
    if (problem := state.runtime.store_problem()) is not None:  # nothing else can be read: say that at once
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return HealthOut(status="unhealthy", version=pixelforge.__version__, problem=problem)
    service, workers = state.service, state.runtime.worker_health()
    # No worker at all (distributed mode, none started yet or all gone): every task would wait.
    healthy = bool(workers) and all(w.alive and not w.stuck and w.problem is None for w in workers)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if healthy else "unhealthy",
        version=pixelforge.__version__,
        paused=service.store.is_paused(),
        queued=service.store.count(states=[TaskState.QUEUED]),
        running=service.store.count(states=[TaskState.RUNNING]),
        workers=[WorkerOut.model_validate(w.model_dump()) for w in workers],
    )


@router.get(
    "/workers",
    tags=["server"],
    summary="Workers: device, model, current task, last heartbeat (admins)",
    responses={403: {"model": Message}},
)
def workers(state: State, caller: Caller) -> list[WorkerInfo]:
    """In distributed mode, every worker whose heartbeat is fresh; in one process, its own workers."""
    if not caller.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins may list the workers")
    return state.runtime.worker_infos()


@router.get("/models", tags=["server"], summary="Models this server knows")
def models(settings: AppSettings, caller: Caller) -> list[ModelEntry]:
    return [entry.model_copy(update={"source": shown_path(entry.source, settings)}) for entry in list_models(settings)]


# A model name is a preset or the server's default model (a path or repo id); a prompt is a sentence or a few. Both
# travel in the URL: at 12 bytes for a percent-encoded 4-byte character, the longest is ~30 KB, well inside what
# the HTTP parser takes (a longer request line is refused before any route could answer in JSON).
MAX_MODEL_NAME = 500
MAX_PROMPT = 2_000


@router.get(
    "/models/{name}/words",
    tags=["server"],
    summary="How a model reads a prompt, word by word",
    responses={404: {"model": Message}},
)
def model_words(
    settings: AppSettings,
    caller: Caller,
    name: Annotated[str, Path(max_length=MAX_MODEL_NAME)],
    prompt: Annotated[str, Query(max_length=MAX_PROMPT, description="The prompt to read.")],
) -> PromptWords:
    """For a model that reads words (the bundled sprite model): each word of the prompt, and whether the model
    knows it, reads it as the nearest word it knows, or ignores it. A model that reads any text answers with
    ``vocabulary: null`` and no words."""
    try:
        return prompt_words(settings, name, prompt)
    except ModelNotFound:
        detail = f"no model '{name}' here: see GET /api/v1/models"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail) from None
