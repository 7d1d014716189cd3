"""A task's events: what each type of event carries, as one union of payloads discriminated by the event's type.

The stores keep a payload as the JSON object of the keys it was given (``Payload.stored``): a payload read back
gives the JSON it was read from, key for key, so the stored rows, the Redis records and the bus messages keep
the shape they have always had. The server shows its own views of them (``server/schemas.py: EventOut``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer, model_validator

from pixelforge.tasks.model import EventType, ImageRef, TaskEnd, TaskProgress, TaskStats


class Payload(BaseModel):
    """What an event carries besides its type: the stored JSON is the keys given, no default added."""

    # Keys of the server's views of events (URLs, the finished task), which the Python API's client reads into
    # these payloads, are left out.
    model_config = ConfigDict(extra="ignore")

    def stored(self) -> dict[str, Any]:
        """The JSON object the stores keep (and the bus carries): the keys given, in the fields' order."""
        return self.model_dump(mode="json", include=set(self.model_fields_set) - {"type"})

    # Read as the JSON it is stored as: ``event.data["step"]``, ``"requeued" in event.data``,
    # ``event.data == {"reason": "user"}``.
    def __getitem__(self, key: str) -> Any:
        return self.stored()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.stored()

    def get(self, key: str, default: Any = None) -> Any:
        return self.stored().get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Payload):
            return type(self) is type(other) and self.stored() == other.stored()
        if isinstance(other, Mapping):
            return self.stored() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class QueuedPayload(Payload):
    """Its place in the queue: stored when it is submitted (or queued again), and told live when it changes."""

    type: Literal[EventType.QUEUED] = Field(default=EventType.QUEUED, exclude=True)
    position: int
    size: int
    starts_in_s: float | None = None
    requeued: str | None = Field(default=None, description="Distributed mode: why a running task is queued again.")
    attempt: int | None = Field(default=None, description="With requeued: the start this will be (2 = second).")
    textinfo: str | None = Field(default=None, description="With requeued: the progress line it shows meanwhile.")


class StartedPayload(Payload):
    """A worker took the task (or, in distributed mode, took over one job of it)."""

    type: Literal[EventType.STARTED] = Field(default=EventType.STARTED, exclude=True)
    worker_device: str | None = None
    worker_id: str | None = None
    job_no: int | None = Field(default=None, description="A split batch's job another worker took over.")
    requeued: str | None = None
    attempt: int | None = None


class ProgressPayload(TaskProgress, Payload):
    """The task's progress as it is now (every field, as the worker reports it)."""

    type: Literal[EventType.PROGRESS] = Field(default=EventType.PROGRESS, exclude=True)

    @classmethod
    def of(cls, progress: TaskProgress) -> ProgressPayload:
        return cls.model_validate(progress.model_dump())


class PreviewPayload(Payload):
    type: Literal[EventType.PREVIEW] = Field(default=EventType.PREVIEW, exclude=True)
    id: int = Field(description="Preview id, increasing within the task.")
    media_type: str


class ImagePayload(ImageRef, Payload):
    """A finished image, as the task keeps it."""

    type: Literal[EventType.IMAGE] = Field(default=EventType.IMAGE, exclude=True)

    @classmethod
    def of(cls, image: ImageRef) -> ImagePayload:
        return cls.model_validate(image.model_dump())


TerminalType = Literal[EventType.COMPLETED, EventType.INTERRUPTED, EventType.FAILED, EventType.CANCELLED]


class EndPayload(Payload):
    """The terminal event: how many images it kept, its statistics, why it stopped or failed."""

    type: TerminalType = Field(exclude=True)
    images: int | None = None
    stats: TaskStats | None = None
    error: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, end: TaskEnd, images: int | None = None) -> EndPayload:
        """The end as the terminal event tells it; ``images``: the count the store holds (None: the store adds it
        inside its own write)."""
        data: dict[str, Any] = {} if images is None else {"images": images}
        data["stats"] = end.stats
        if end.error:
            data["error"] = end.error
        if end.stop_reason:
            data["reason"] = end.stop_reason
        return cls(type=EventType(end.state.value), **data)

    @classmethod
    def cancelled(cls, reason: str) -> EndPayload:
        return cls(type=EventType.CANCELLED, reason=reason)


EventPayload = Annotated[
    QueuedPayload | StartedPayload | ProgressPayload | PreviewPayload | ImagePayload | EndPayload,
    Field(discriminator="type"),
]


class TaskEvent(BaseModel):
    task_id: str
    seq: int = Field(description="Per-task sequence number, from 1; SSE ids and Last-Event-ID use it.")
    type: EventType
    time: float = Field(default_factory=time.time)
    data: EventPayload

    @model_validator(mode="before")
    @classmethod
    def _payload_of_its_type(cls, values: Any) -> Any:
        """The payload is read as the one of the event's type (a stored payload does not repeat the type)."""
        if not isinstance(values, Mapping) or "type" not in values:
            return values
        data = values.get("data", {})
        if isinstance(data, Payload):
            if getattr(data, "type", None) != EventType(values["type"]):
                raise ValueError(f"a {type(data).__name__} is not the payload of a {values['type']} event")
            return values
        return {**values, "data": {**data, "type": values["type"]}}

    @field_serializer("data")
    def _stored_data(self, data: Payload) -> dict[str, Any]:
        return data.stored()


# What a store's ``append_event`` takes: a payload, or the JSON object of one (read as the event type's payload).
EventData = Payload | Mapping[str, Any]


_PAYLOADS: TypeAdapter[Payload] = TypeAdapter(EventPayload)


def payload_of(type: EventType, data: EventData) -> Payload:
    """The payload of an event of ``type``: ``data`` as it is, or read from its JSON object (ValidationError when it
    is not one)."""
    if isinstance(data, Payload):
        return data
    return _PAYLOADS.validate_python({**data, "type": type})
