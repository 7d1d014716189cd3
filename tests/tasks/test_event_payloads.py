"""A task event's payload is the typed model of its type, and the JSON the stores keep of it is exactly the JSON
it was given or read from: no key added, none dropped, so stored rows and the wire keep their shape."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from pixelforge.tasks.events import (
    EndPayload,
    ImagePayload,
    PreviewPayload,
    ProgressPayload,
    QueuedPayload,
    StartedPayload,
    TaskEvent,
    payload_of,
)
from pixelforge.tasks.model import EventType, ImageRef, TaskEnd, TaskProgress, TaskState, TaskStats

# What the stores have written for each type (SQLite's json.dumps, the Lua scripts' cjson).
STORED = [
    (EventType.QUEUED, {"position": 2, "size": 3}, QueuedPayload),
    (EventType.QUEUED, {"position": 1, "size": 2, "requeued": "worker w1 stopped", "attempt": 2,
                        "textinfo": "Worker lost — requeued, attempt 2"}, QueuedPayload),
    (EventType.STARTED, {"worker_device": "cpu", "worker_id": "w1"}, StartedPayload),
    (EventType.STARTED, {"worker_id": "w2", "requeued": "worker w0 stopped", "attempt": 2, "job_no": 0},
     StartedPayload),
    (EventType.PROGRESS, TaskProgress(step=3, steps=8).model_dump(mode="json"), ProgressPayload),
    (EventType.PROGRESS, {}, ProgressPayload),
    (EventType.PREVIEW, {"id": 4, "media_type": "image/webp"}, PreviewPayload),
    (EventType.IMAGE, ImageRef(index=0, job_no=0, seed=1, path="images/0.png", width=32, height=32).model_dump(),
     ImagePayload),
    (EventType.COMPLETED, {"images": 1, "stats": TaskStats(total_s=1.5).model_dump()}, EndPayload),
    (EventType.FAILED, {"images": 0, "stats": None, "error": "boom"}, EndPayload),
    (EventType.CANCELLED, {"reason": "user"}, EndPayload),
    (EventType.INTERRUPTED, {"reason": "restart", "error": "the server stopped while this task was running"},
     EndPayload),
]


@pytest.mark.parametrize(("event_type", "stored", "payload_type"), STORED)
def test_a_stored_payload_reads_as_its_type_and_writes_back_the_same_json(
    event_type: EventType, stored: dict, payload_type: type
) -> None:
    row = json.dumps(stored)
    event = TaskEvent(task_id="t", seq=1, type=event_type, data=json.loads(row))
    assert isinstance(event.data, payload_type)
    assert event.data.stored() == stored
    assert all(key in event.data and event.data[key] == value for key, value in stored.items())
    assert "no such key" not in event.data
    assert json.loads(event.model_dump_json())["data"] == stored  # the bus carries the same
    assert TaskEvent.model_validate_json(event.model_dump_json()) == event


def test_the_terminal_payload_of_an_end_is_what_the_event_always_carried() -> None:
    end = TaskEnd(state=TaskState.INTERRUPTED, stop_reason="user")
    assert EndPayload.of(end, 2).stored() == {"images": 2, "stats": None, "reason": "user"}
    assert EndPayload.of(end).type is EventType.INTERRUPTED


def test_a_payload_of_another_type_or_a_bad_value_is_refused() -> None:
    with pytest.raises(ValidationError):
        TaskEvent(task_id="t", seq=1, type=EventType.QUEUED, data=PreviewPayload(id=1, media_type="image/png"))
    with pytest.raises(ValidationError):
        payload_of(EventType.PREVIEW, {"id": "not a number", "media_type": "image/png"})
    with pytest.raises(ValidationError):
        payload_of(EventType.QUEUED, {"size": 2})  # its position is missing
