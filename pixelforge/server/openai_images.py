"""The OpenAI Images API under ``/v1``: ``GET /v1/models``, ``POST /v1/images/generations`` and
``POST /v1/images/edits``, for the tools that speak it (Open WebUI's OpenAI engine, LibreChat, the
openai SDKs).

Each request is an ordinary task of the caller's on the shared queue (its id in the ``X-Task-Id``
response header, visible in the web UI like any other), run to its end while the request waits; a
client that disconnects stops it (``client_gone``). Identities are the server's own: an API key sent
as ``Authorization: Bearer``; without keys the token is ignored and the request gets the anonymous
identity cookie-less A1111 scripts get (OpenAI clients always send some token).

It is a sub-application mounted at ``/v1``, so that its errors have OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``, 400 for bad input) without changing the native
API's.
"""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixelforge.backends.presets import list_models
from pixelforge.server.auth import Identity
from pixelforge.server.client_gone import await_end_or_stop
from pixelforge.server.deps import AppSettings, Caller, ServerState, State
from pixelforge.server.images import as_asked_kind, data_file, image_path
from pixelforge.server.model_roots import ModelRoots, Unreachable
from pixelforge.server.openai_models import (
    OPENAI_MODEL_PREFIXES,
    SIZE_PATTERN,
    EditRequest,
    ImageData,
    ImagesRequest,
    ImagesResponse,
    ModelCard,
    ModelList,
    OpenAIError,
)
from pixelforge.server.task_ids import shown_id
from pixelforge.server.unicode import valid_text_body
from pixelforge.tasks.input_images import ImageRejected, ImageUpload, read_image
from pixelforge.tasks.model import Img2ImgOptions, Task, TaskParams, TaskState
from pixelforge.tasks.service import InvalidTask
from pixelforge.tasks.store import QueueFull, StoreFull, StoreUnavailable, TaskNotFound

TASK_HEADER = "X-Task-Id"
# pixelforge's parameter names under the names an OpenAI request uses, for errors' ``param``.
OPENAI_NAMES = {"batch_size": "n", "width": "size", "height": "size", "init_image": "image",
                "img2img": "strength"}
# Mask pixels with less alpha than this are "transparent": repainted (OpenAI's convention).
TRANSPARENT_BELOW = 128
# Strength of an edit that names none: a masked area is painted anew; a whole image keeps its shapes.
MASKED_STRENGTH, UNMASKED_STRENGTH = 1.0, 0.75

router = APIRouter()


@router.get("/models", summary="Every model this server knows")
def models(settings: AppSettings, caller: Caller) -> ModelList:
    return ModelList(data=[ModelCard(id=entry.name) for entry in list_models(settings)])


@router.get("/models/{model}", summary="One model")
def model(model: Annotated[str, Path()], settings: AppSettings, caller: Caller) -> ModelCard:
    if all(entry.name != model for entry in list_models(settings)):
        raise OpenAIError(status.HTTP_404_NOT_FOUND, f"unknown model '{model}'", param="model",
                          code="model_not_found")
    return ModelCard(id=model)


def _model(spec: str | None, roots: ModelRoots) -> str | None:
    if spec is None or spec.lower().startswith(OPENAI_MODEL_PREFIXES):
        return None
    try:
        return roots.model(spec)
    except Unreachable as exc:
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, str(exc), param="model", code="model_not_found") from None


def _size(size: str | None) -> tuple[int | None, int | None]:
    if size is None or size == "auto":
        return None, None
    match = SIZE_PATTERN.match(size)
    if match is None:
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, f"size must be WIDTHxHEIGHT or 'auto', got {size!r}",
                          param="size")
    return int(match[1]), int(match[2])


def _task_params(body: ImagesRequest, roots: ModelRoots, img2img: Img2ImgOptions | None = None) -> TaskParams:
    if body.stream:
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, "streaming is not supported: leave out stream or send false",
                          param="stream")
    width, height = _size(body.size)
    fields: dict[str, Any] = {
        "prompt": body.prompt, "negative_prompt": body.negative_prompt, "steps": body.steps, "seed": body.seed,
        "cfg_scale": body.cfg_scale, "width": width, "height": height, "batch_size": body.n,
        "model": _model(body.model, roots), "pixel": body.pixel, "img2img": img2img,
    }
    try:
        params = TaskParams(**{key: value for key, value in fields.items() if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else None
        message = "; ".join(f"{OPENAI_NAMES.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" if e["loc"] else e["msg"]
                            for e in exc.errors())
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, message, param=OPENAI_NAMES.get(name or "", name)) from None
    return roots.params(params)


def _image_data(state: ServerState, task: Task, shown: str, base_url: str, as_url: bool) -> ImagesResponse:
    data, size = [], None
    for ref in task.images:
        kind = as_asked_kind(task, ref)
        path = data_file(state.settings.data_dir, ref.files[kind], f"{kind} image") if kind else image_path(
            state.settings.data_dir, ref)
        if size is None:
            with Image.open(path) as image:
                size = f"{image.width}x{image.height}"
        if as_url:
            tail = f"/{kind}" if kind else ".png"
            data.append(ImageData(url=f"{base_url}api/v1/tasks/{quote(shown, safe='')}/images/{ref.index}{tail}"))
        else:
            data.append(ImageData(b64_json=base64.b64encode(path.read_bytes()).decode()))
    return ImagesResponse(created=int(task.created_at), data=data, size=size)


async def _run(request: Request, response: Response, state: ServerState, caller: Identity, body: ImagesRequest,
               params: TaskParams, upload: ImageUpload | None = None) -> ImagesResponse:
    """Submit the task, wait for its end (stopping it if the client goes) and answer with its images."""
    task = await asyncio.to_thread(state.service.submit, params, owner=caller.owner, images=upload)
    shown = shown_id(task, caller.owner)
    response.headers[TASK_HEADER] = shown
    task = await await_end_or_stop(request, state.service, task.id)
    headers = {TASK_HEADER: shown}
    if task.state is TaskState.FAILED:
        raise OpenAIError(status.HTTP_500_INTERNAL_SERVER_ERROR, f"generation failed: {task.error}",
                          type="server_error", headers=headers)
    if not task.images:
        raise OpenAIError(status.HTTP_409_CONFLICT, f"task {shown} was {task.state.value} ({task.stop_reason}) "
                          "before any image was finished", code="task_stopped", headers=headers)
    return await asyncio.to_thread(_image_data, state, task, shown, str(request.base_url),
                                   body.response_format == "url")


@router.post("/images/generations", summary="Generate images (blocking; a client that disconnects stops its task)")
async def generations(body: ImagesRequest, request: Request, response: Response, state: State,
                      caller: Caller) -> ImagesResponse:
    params = await asyncio.to_thread(_task_params, body, state.roots)
    return await _run(request, response, state, caller, body, params)


def _repaint_mask(data: bytes, max_pixels: int) -> bytes:
    """OpenAI's mask (its transparent pixels are repainted) as pixelforge's (white = repaint), PNG."""
    try:
        checked = read_image(data, "mask", max_pixels)
    except ImageRejected as exc:
        raise InvalidTask([exc.problem]) from None
    mask = Image.open(io.BytesIO(checked.file))  # any alpha reads back as RGBA (read_image normalises the rest)
    if mask.mode != "RGBA":
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, "mask must have an alpha channel: its transparent pixels "
                          "are the ones repainted (OpenAI's convention)", param="mask")
    repaint = mask.getchannel("A").point(lambda alpha: 255 if alpha < TRANSPARENT_BELOW else 0)
    out = io.BytesIO()
    repaint.save(out, format="PNG")
    return out.getvalue()


def _edit(fields: dict[str, Any], images: list[UploadFile], mask: UploadFile | None, state: ServerState,
          ) -> tuple[EditRequest, TaskParams, ImageUpload]:
    try:
        body = EditRequest.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    if len(images) != 1:
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, f"send one image to edit (got {len(images)})", param="image")
    repaint = _repaint_mask(mask.file.read(), state.service.limits.max_input_pixels) if mask is not None else None
    strength = body.strength if body.strength is not None else MASKED_STRENGTH if mask else UNMASKED_STRENGTH
    try:
        options = Img2ImgOptions(denoising_strength=strength)
    except ValidationError:
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, f"strength must be 0..1, got {strength}",
                          param="strength") from None
    params = _task_params(body, state.roots, options)
    return body, params, ImageUpload(init_image=images[0].file.read(), mask=repaint)


@router.post("/images/edits", summary="Edit an image: img2img, or inpainting with a mask (blocking)")
async def edits(request: Request, response: Response, state: State, caller: Caller) -> ImagesResponse:
    """multipart/form-data: ``image`` (or ``image[]``), optional ``mask`` whose transparent pixels are
    repainted, and the fields of a generation."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise OpenAIError(status.HTTP_400_BAD_REQUEST, "images/edits takes multipart/form-data (image, mask, "
                          "prompt, ...)")
    async with request.form() as form:
        files = [*form.getlist("image"), *form.getlist("image[]")]
        images = [f for f in files if isinstance(f, UploadFile)]
        mask = form.get("mask")
        if len(images) != len(files) or (mask is not None and not isinstance(mask, UploadFile)):
            raise OpenAIError(status.HTTP_400_BAD_REQUEST, "image and mask must be file parts", param="image")
        fields = {key: value for key, value in form.multi_items()
                  if key not in ("image", "image[]", "mask") and isinstance(value, str)}
        body, params, upload = await asyncio.to_thread(_edit, fields, images, mask, state)
    return await _run(request, response, state, caller, body, params, upload)


# --- errors in OpenAI's shape ---------------------------------------------------------------------

def _answer(error: OpenAIError) -> JSONResponse:
    return JSONResponse(status_code=error.status_code, content=error.body(), headers=error.headers)


async def _on_openai_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    return _answer(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    # A field path ("pixel.palette"); a JSON body that does not parse is located by a character offset instead.
    fields = [".".join(str(part) for part in e["loc"] if part != "body")
              if all(isinstance(part, str) for part in e["loc"]) else "" for e in errors]
    message = "; ".join(f"{field}: {e['msg']}" if field else e["msg"] for field, e in zip(fields, errors, strict=True))
    return _answer(OpenAIError(status.HTTP_400_BAD_REQUEST, message, param=fields[0] if fields and fields[0] else None))


async def _on_invalid_task(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidTask)
    message = "; ".join(f"{OPENAI_NAMES.get(p.field, p.field)}: {p.message}" for p in exc.problems)
    field = exc.problems[0].field if exc.problems else None
    return _answer(OpenAIError(status.HTTP_400_BAD_REQUEST, message, param=OPENAI_NAMES.get(field or "", field)))


HTTP_CODES = {401: "invalid_api_key", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _answer(OpenAIError(exc.status_code, str(exc.detail), code=HTTP_CODES.get(exc.status_code),
                               headers=exc.headers))


async def _on_queue_full(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueFull)
    return _answer(OpenAIError(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), type="requests",
                               code="rate_limit_exceeded", headers={"Retry-After": str(exc.retry_after_s)}))


async def _on_server_side(_: Request, exc: Exception) -> JSONResponse:
    unavailable = isinstance(exc, StoreUnavailable)
    return _answer(OpenAIError(
        status.HTTP_503_SERVICE_UNAVAILABLE if unavailable else status.HTTP_507_INSUFFICIENT_STORAGE, str(exc),
        type="server_error", headers={"Retry-After": "5"} if unavailable else None))


async def _on_not_found(_: Request, exc: Exception) -> JSONResponse:
    return _answer(OpenAIError(status.HTTP_404_NOT_FOUND, str(exc), code="not_found"))


def create_openai_app(state: ServerState) -> FastAPI:
    """The ``/v1`` sub-application, sharing the server's state (mount it before the web UI at ``/``)."""
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, dependencies=[Depends(valid_text_body)])
    api.state.pixelforge = state
    api.include_router(router)
    api.add_exception_handler(OpenAIError, _on_openai_error)
    api.add_exception_handler(RequestValidationError, _on_validation)
    api.add_exception_handler(InvalidTask, _on_invalid_task)
    api.add_exception_handler(StarletteHTTPException, _on_http_error)
    api.add_exception_handler(QueueFull, _on_queue_full)
    api.add_exception_handler(StoreFull, _on_server_side)
    api.add_exception_handler(StoreUnavailable, _on_server_side)
    api.add_exception_handler(TaskNotFound, _on_not_found)
    return api
