"""How the Redis store writes a task as hash fields and reads it back, and what a queue stream entry holds."""

from __future__ import annotations

from dataclasses import dataclass

from pixelforge.tasks.model import (
    ImageRef,
    ResolvedParams,
    StopRequest,
    Task,
    TaskInputs,
    TaskOrigin,
    TaskParams,
    TaskProgress,
    TaskState,
    TaskStats,
)

# What redis-py returns on this (synchronous, bytes) client: its annotations say ``Awaitable[...] | ...`` for every
# reply, since the same methods serve its async client, so the store names the reply's real type with ``cast``.
StreamEntry = tuple[bytes, dict[bytes, bytes]]


def text(value: bytes | None) -> str | None:
    """A hash field as text; '' and a missing field are both None."""
    return value.decode() if value else None


def task_fields(task: Task) -> list[str]:
    """The field/value pairs a new task's hash starts with."""
    return [
        "id", task.id, "type", task.type, "owner", task.owner, "state", task.state.value,
        "params", task.params.model_dump_json(), "created_at", repr(task.created_at),
        "progress", task.progress.model_dump_json(), "inputs", task.inputs.model_dump_json() if task.inputs else "",
        "origin", task.origin.model_dump_json(),
    ]


def task_from_record(record: dict[bytes, bytes], images: list[bytes]) -> Task:
    """A task from its hash (HGETALL) and its images (ImageRef JSON, in order)."""

    def get(name: str) -> str | None:
        return text(record.get(name.encode()))

    stats, request, resolved, inputs = get("stats"), get("stop_request"), get("resolved"), get("inputs")
    started, finished = get("started_at"), get("finished_at")
    return Task(
        id=get("id") or "",
        type=get("type") or "txt2img",
        owner=get("owner") or "local",
        params=TaskParams.model_validate_json(get("params") or "{}"),
        state=TaskState(get("state") or ""),
        created_at=float(get("created_at") or 0),
        started_at=float(started) if started else None,
        finished_at=float(finished) if finished else None,
        progress=TaskProgress.model_validate_json(get("progress") or "{}"),
        images=[ImageRef.model_validate_json(i) for i in images],
        stats=TaskStats.model_validate_json(stats) if stats else None,
        error=get("error"),
        stop_reason=get("stop_reason"),
        stop_request=StopRequest.model_validate_json(request) if request else None,
        resolved=ResolvedParams.model_validate_json(resolved) if resolved else None,
        sprite_sheet=get("sprite_sheet"),
        inputs=TaskInputs.model_validate_json(inputs) if inputs else None,
        origin=TaskOrigin.model_validate_json(origin) if (origin := get("origin")) else TaskOrigin(),
    )


@dataclass(frozen=True)
class QueueEntry:
    """An entry of the queue stream: a whole task, or one job of a task split over workers."""

    id: bytes
    task_id: str
    job: int | None

    @classmethod
    def of(cls, entry_id: bytes, fields: dict[bytes, bytes]) -> QueueEntry:
        job = fields.get(b"job")
        return cls(entry_id, fields[b"task"].decode(), int(job) if job is not None else None)

    @property
    def job_arg(self) -> str:
        """The job as the scripts take it: '' for a whole task."""
        return "" if self.job is None else str(self.job)
