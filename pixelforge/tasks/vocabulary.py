"""The words a task's clients share with the server: its states, its event types and the codes of its errors.

Plain enums, no model, nothing heavy to import: the thin CLI client reads them, and ``protocol_js`` writes them
into the web UI's ``protocol.js`` so that the browser's copy is generated, never typed again by hand.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.INTERRUPTED, TaskState.FAILED, TaskState.CANCELLED}
)


class EventType(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    PREVIEW = "preview"
    IMAGE = "image"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self.value in {s.value for s in TERMINAL_STATES}


class ErrorCode(StrEnum):
    """The machine code of a native API error answer (``{"detail", "message", "code"}``) or of a task's error: a
    client acts on it and translates it, never on the English message."""

    INVALID_PARAMS = "invalid_params"  # 422: the request's fields (``detail`` lists them)
    UNKNOWN_TASK = "unknown_task"  # 404: no such task, or not the caller's
    TASK_EXISTS = "task_exists"  # 409: a task with the id asked for exists
    NOT_RETRYABLE = "not_retryable"  # 409: only a failed, interrupted or cancelled task is retried
    QUEUE_FULL = "queue_full"  # 429: the whole queue is at its limit
    OWNER_FULL = "owner_full"  # 429: the caller has as many queued or running tasks as allowed
    INPUTS_FULL = "inputs_full"  # 429: the caller's input images would take more than allowed
    STORE_FULL = "store_full"  # 507: the server's disk is full
    STORE_UNAVAILABLE = "store_unavailable"  # 503: the task store (Redis) cannot be reached
    BAD_REQUEST = "bad_request"  # 400
    UNAUTHORIZED = "unauthorized"  # 401: no or a wrong API key
    FORBIDDEN = "forbidden"  # 403: an admin's action, or a cross-site form
    NOT_FOUND = "not_found"  # 404: something else than a task (a file, an output, a route)
    CONFLICT = "conflict"  # 409
    TIMEOUT = "timeout"  # 408: the request did not arrive in time
    TOO_LARGE = "too_large"  # 413: the request's body is over the limit
    # A task's own error (TaskOut.error_code, and its terminal event's), not an answer's:
    TASK_FAILED = "task_failed"  # it failed; its error says why
    SERVER_RESTART = "server_restart"  # the server stopped while it ran: it was interrupted
