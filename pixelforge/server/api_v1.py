"""The native API: tasks with handles, stop controls, images, previews, the queue, models, health.

Routes are plain ``def``: the store is synchronous, so FastAPI runs them in its thread pool and the
event loop stays free for the SSE streams.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status
from fastapi.responses import FileResponse

import pixelforge
from pixelforge.backends.presets import ModelEntry, list_models
from pixelforge.server.deps import DB_INT_MAX, AppSettings, Caller, Service, State, owned_task
from pixelforge.server.images import OUTPUT_MEDIA_TYPES, data_file, find_image, image_path, scaled_png
from pixelforge.server.schemas import (
    HealthOut,
    InterruptRequest,
    Message,
    QueuedOut,
    QueueOut,
    RunningOut,
    TaskCreate,
    TaskOut,
    TaskPage,
    WorkerOut,
)
from pixelforge.server.task_ids import shown_id, stored_id
from pixelforge.tasks.model import TaskState, WorkerInfo
from pixelforge.tasks.store import TaskExists

router = APIRouter(prefix="/api/v1")

TaskId = Annotated[str, Path(description="Task id.")]
NOT_YOURS = {404: {"model": Message, "description": "No such task, or not yours."}}


@router.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    tags=["tasks"],
    summary="Submit a task",
    responses={
        409: {"model": Message, "description": "A task with the requested id exists."},
        429: {"model": Message, "description": "Queue limit reached; see Retry-After."},
        507: {"model": Message, "description": "The server's disk is full; nothing was stored."},
    },
)
def create_task(body: TaskCreate, state: State, caller: Caller) -> TaskOut:
    """Queue limits are enforced by the service, inside the store's own transaction."""
    params = state.roots.params(body.params())
    task_id = stored_id(caller.owner, body.id) if body.id else None
    try:
        task = state.service.submit(params, owner=caller.owner, task_id=task_id)
    except TaskExists:  # only ever the caller's own: ids are per identity
        raise TaskExists(body.id or "") from None
    return TaskOut.of(task, caller.owner)


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
    total = service.count(owner=owner, states=state)
    return TaskPage(tasks=[TaskOut.of(t, caller.owner) for t in tasks], total=total, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", tags=["tasks"], summary="One task", responses=NOT_YOURS)
def get_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    return TaskOut.of(owned_task(service, caller, task_id), caller.owner)


@router.post("/tasks/{task_id}/interrupt", tags=["control"], summary="Stop the task", responses=NOT_YOURS)
def interrupt_task(
    task_id: TaskId,
    service: Service,
    caller: Caller,
    body: Annotated[InterruptRequest | None, Body(description="Optional; keep_partial defaults to false.")] = None,
) -> TaskOut:
    """A queued task is cancelled; a running one stops within milliseconds (finished images stay);
    a finished one is returned unchanged."""
    task = owned_task(service, caller, task_id)
    keep_partial = body.keep_partial if body else False
    return TaskOut.of(service.interrupt(task.id, keep_partial=keep_partial), caller.owner)


@router.post("/tasks/{task_id}/skip", tags=["control"], summary="Skip the current job", responses=NOT_YOURS)
def skip_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    """Ends the running job (image batch) early and moves on to the next job of the task."""
    task = owned_task(service, caller, task_id)
    return TaskOut.of(service.skip(task.id), caller.owner)


@router.delete("/tasks/{task_id}", tags=["control"], summary="Cancel or interrupt", responses=NOT_YOURS)
def cancel_task(task_id: TaskId, service: Service, caller: Caller) -> TaskOut:
    """Cancels a queued task, interrupts a running one (discarding its unfinished image)."""
    task = owned_task(service, caller, task_id)
    return TaskOut.of(service.cancel(task.id), caller.owner)


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
    found = service.get_preview(task.id, preview_id)
    if found is None:
        which = "no preview yet" if preview_id is None else f"preview {preview_id} is gone or never existed"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task {task_id}: {which}")
    found_id, data, media_type = found
    cache = "no-store" if preview_id is None else "private, max-age=3600, immutable"
    return Response(data, media_type=media_type, headers={"X-Preview-Id": str(found_id), "Cache-Control": cache})


PREVIEW_RESPONSES = {200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}, **NOT_YOURS}


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
    queued = service.queued_ids()
    mine = {t.id: t for t in service.list(owner=caller.owner, states=[TaskState.QUEUED], limit=len(queued) or 1)}
    return QueueOut(
        paused=service.is_paused(),
        pending=len(queued),
        running=running,
        mine=[QueuedOut(id=shown_id(mine[task_id], caller.owner), position=n)
              for n, task_id in enumerate(queued, start=1) if task_id in mine],
    )


def _set_paused(service: Service, caller: Caller, paused: bool) -> QueueOut:
    if not caller.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins may pause or resume the queue")
    service.set_paused(paused)
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
    responses={503: {"model": HealthOut, "description": "A worker is dead or stuck."}},
)
def health(state: State, response: Response) -> HealthOut:
    service, workers = state.service, state.runtime.worker_health()
    healthy = all(w.alive and not w.stuck for w in workers)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if healthy else "unhealthy",
        version=pixelforge.__version__,
        paused=service.is_paused(),
        queued=service.count(states=[TaskState.QUEUED]),
        running=service.count(states=[TaskState.RUNNING]),
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
    return list_models(settings)
