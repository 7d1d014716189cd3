"""Errors as JSON a client can act on: 422 with field paths, 404/409/429 from the domain, and a
catch-all 500 that logs the trace on the server and never shows it to the client.

Every error body carries ``message``, one line for people; ``detail`` stays as FastAPI shapes it
(a string, or the list of field errors of a 422) for the clients that already parse it. The native API's
answers (``/api/...``) also carry ``code``, a stable ``ErrorCode`` that clients act on and translate; the
A1111-compatible routes keep their shape without it (the OpenAI-compatible ones have their own handlers).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelforge.server.form_text import is_multipart, non_utf8_fields
from pixelforge.server.json_shape import is_json, json_shape_problem
from pixelforge.tasks.model import Problem
from pixelforge.tasks.service import InvalidTask
from pixelforge.tasks.store import QueueFull, StoreFull, StoreUnavailable, TaskExists, TaskNotFound
from pixelforge.tasks.vocabulary import ErrorCode

log = logging.getLogger("pixelforge.server")


# The code of an HTTP error raised without one of its own, by its status.
STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND,
    408: ErrorCode.TIMEOUT, 409: ErrorCode.CONFLICT, 413: ErrorCode.TOO_LARGE, 422: ErrorCode.INVALID_PARAMS,
    503: ErrorCode.STORE_UNAVAILABLE, 507: ErrorCode.STORE_FULL,
}


class CodedHTTPException(HTTPException):
    """An HTTP error a route raises with its own code (a 404 of an unknown task is ``unknown_task``, not the
    ``not_found`` of a missing file)."""

    def __init__(self, status_code: int, detail: str, code: ErrorCode) -> None:
        super().__init__(status_code, detail=detail)
        self.code = code


def is_native(path: str) -> bool:
    """Whether the request is one of the native API's, whose error answers carry a ``code``."""
    return path.startswith("/api/")


def _coded(content: dict, code: ErrorCode | None) -> dict:
    return content if code is None else {**content, "code": code.value}


def error_response(
    status_code: int, message: str, headers: Mapping[str, str] | None = None, code: ErrorCode | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=_coded({"detail": message, "message": message}, code),
                        headers=headers)


def error_body(message: str, code: ErrorCode | None = None) -> bytes:
    """The same body for the middlewares, which answer below FastAPI's exception handlers."""
    return json.dumps(_coded({"detail": message, "message": message}, code)).encode()


def _native_code(request: Request, code: ErrorCode) -> ErrorCode | None:
    return code if is_native(request.url.path) else None


def _path(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


# Errors one 422 lists: a client fixes the first few, and the answer stays small whatever the body.
MAX_REPORTED_ERRORS = 20


def validation_response(errors: list[dict], code: ErrorCode | None = None) -> JSONResponse:
    """FastAPI's ``detail`` list (loc/msg/type, which clients already parse) plus one readable line,
    both of the first MAX_REPORTED_ERRORS errors. The offending input is not echoed back: it may be large."""
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors[:MAX_REPORTED_ERRORS]]
    message = "; ".join(f"{_path(e['loc'])}: {e['msg']}" for e in detail)
    if len(errors) > MAX_REPORTED_ERRORS:
        message += f" (and {len(errors) - MAX_REPORTED_ERRORS} more errors)"
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content=jsonable_encoder(_coded({"detail": detail, "message": message}, code)),
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(list(exc.errors()), _native_code(request, ErrorCode.INVALID_PARAMS))


def problem_errors(problems: list[Problem], names: dict[str, str] | None = None) -> list[dict]:
    """Refused parameters as pydantic-style errors, each field under the name the client used."""
    names = names or {}
    return [{"loc": ("body", names.get(p.field, p.field)), "msg": p.message, "type": p.type} for p in problems]


async def _on_invalid_task(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidTask)
    return validation_response(problem_errors(exc.problems), _native_code(request, ErrorCode.INVALID_PARAMS))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    own = exc.code if isinstance(exc, CodedHTTPException) else STATUS_CODES.get(exc.status_code)
    code = _native_code(request, own) if own is not None else None
    if isinstance(exc.detail, str):
        return error_response(exc.status_code, exc.detail, exc.headers, code)
    return JSONResponse(status_code=exc.status_code,
                        content=_coded({"detail": exc.detail, "message": str(exc.detail)}, code), headers=exc.headers)


async def _on_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_404_NOT_FOUND, str(exc), code=_native_code(request, ErrorCode.UNKNOWN_TASK))


async def _on_exists(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_409_CONFLICT, str(exc), code=_native_code(request, ErrorCode.TASK_EXISTS))


async def _on_store_full(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_507_INSUFFICIENT_STORAGE, str(exc),
                          code=_native_code(request, ErrorCode.STORE_FULL))


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "5"},
                          _native_code(request, ErrorCode.STORE_UNAVAILABLE))


async def _on_queue_full(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueFull)
    return error_response(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), {"Retry-After": str(exc.retry_after_s)},
                          _native_code(request, exc.code))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InvalidTask, _on_invalid_task)
    app.add_exception_handler(TaskNotFound, _on_not_found)
    app.add_exception_handler(TaskExists, _on_exists)
    app.add_exception_handler(QueueFull, _on_queue_full)
    app.add_exception_handler(StoreFull, _on_store_full)
    app.add_exception_handler(StoreUnavailable, _on_store_unavailable)


class CatchAllMiddleware:
    """Any unhandled exception becomes ``500 {"detail": ...}``; the trace goes to the log only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:  # a streaming response broke midway: all we can do is end it
                return
            # No code: the body of an unexpected error has kept the same two keys for every API (clients match it).
            body = error_body("internal server error; the server log has the details")
            await send({
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            })
            await send({"type": "http.response.body", "body": body})


# Routes whose bodies may carry images (base64 or multipart): they get the larger limit.
IMAGE_ROUTES = frozenset({"/api/v1/tasks", "/api/v1/tasks/upload", "/sdapi/v1/img2img", "/v1/images/edits", "/mcp"})


class BodyLimitsMiddleware:
    """Refuse request bodies over ``max_bytes`` (``image_max_bytes`` on the routes that take images)
    with 413, whether announced by Content-Length or streamed in chunks, bodies that take longer
    than ``timeout_s`` to arrive with 408 (a body shorter than its Content-Length would otherwise hold
    the connection forever), and with 422 JSON bodies of too many values or too deep (``json_shape``) and
    forms whose text is not UTF-8 (``form_text``), before any of it reaches a route."""

    def __init__(self, app: ASGIApp, max_bytes: int, image_max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.image_max_bytes = image_max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.image_max_bytes if scope["path"].rstrip("/") in IMAGE_ROUTES else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, scope, 413, f"request body larger than {limit} bytes")
            return
        if declared is None and dict(scope["headers"]).get(b"transfer-encoding") is None:
            await self.app(scope, receive, send)
            return
        # Read the whole (bounded) body first, then replay it: the limit holds for chunked bodies too.
        chunks: list[bytes] = []
        size = 0
        final: Message | None = None  # a disconnect before the body was complete
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        final = message
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await self._refuse(send, scope, 413, f"request body larger than {limit} bytes")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await self._refuse(send, scope, 408, f"request body not received within {self.timeout_s:g} s")
            return
        if final is not None:
            await self.app(scope, _replay([], final), send)
            return
        body = b"".join(chunks)
        errors = _body_errors(body, dict(scope["headers"]).get(b"content-type"))
        if errors:  # refused before any parser or validator sees the body
            code = ErrorCode.INVALID_PARAMS if is_native(scope["path"]) else None
            await validation_response(errors, code)(scope, receive, send)
            return
        await self.app(scope, _replay([body], None, receive), send)

    @staticmethod
    async def _refuse(send: Send, scope: Scope, status_code: int, message: str) -> None:
        body = error_body(message, STATUS_CODES[status_code] if is_native(scope["path"]) else None)
        await send({
            "type": "http.response.start",
            "status": status_code,
            # The rest of the body may still be on its way: this connection cannot carry another request.
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


def _body_errors(body: bytes, content_type: bytes | None) -> list[dict]:
    """What the routes' parsers would choke on (a JSON body's size in values, its depth) or silently get
    wrong (a form's text field that is not UTF-8, which Starlette reads as Latin-1)."""
    if is_json(content_type):
        problem = json_shape_problem(body)
        return [] if problem is None else [{"loc": ("body",), "msg": problem, "type": "json_shape"}]
    if content_type is not None and is_multipart(content_type):
        return [{"loc": ("body", name), "msg": "must be UTF-8 text", "type": "unicode"}
                for name in non_utf8_fields(body, content_type)]
    return []


def _replay(chunks: list[bytes], final: Message | None, receive: Receive | None = None) -> Receive:
    """A receive() that first returns the buffered body, then defers to the real one (disconnects)."""
    pending: list[Message] = (
        [{"type": "http.request", "body": b"".join(chunks), "more_body": False}] if final is None else [final]
    )

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed
