import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.model import (
    EventType,
    Problem,
    StopRequest,
    TaskEnd,
    TaskLimits,
    TaskParams,
    TaskProgress,
    TaskState,
)
from pixelforge.tasks.service import InvalidTask, TaskService
from pixelforge.tasks.stop import StopToken
from pixelforge.tasks.store import QueueFull


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    return TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), TaskLimits(max_steps=50))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"steps": 0}, "greater than or equal to 1"),
        ({"width": 100}, "multiple of 16"),
        ({"height": 8}, "greater than or equal to 16"),
        ({"batch_count": -1}, "greater than or equal to 0"),
        ({"seed": -2}, "greater than or equal to -1"),
        ({"lora_scale": 9}, "less than or equal to 4"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"timeout_s": 1e10}, "less than or equal to 604800"),
        ({"sampler": "Euler"}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_params_are_rejected(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TaskParams(**fields)


def test_limits_are_checked_at_submission(service: TaskService) -> None:
    with pytest.raises(InvalidTask) as caught:
        service.submit(TaskParams(prompt="x" * 5000, steps=51, width=4096, batch_size=99))
    text = str(caught.value)
    for expected in ("steps: at most 50", "width: at most 2048", "batch_size: at most 8", "prompt: at most 4000"):
        assert expected in text
    assert service.store.count() == 0  # nothing half-stored
    fields = [problem.field for problem in caught.value.problems]  # structured, not text to parse again
    assert fields == ["steps", "width", "batch_size", "prompt"]


def test_extra_checks_reject_with_their_message(tmp_path: Path) -> None:
    unknown = [Problem(field="model", message="unknown")]
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), checks=[lambda p: unknown])
    with pytest.raises(InvalidTask, match="model: unknown"):
        service.submit(TaskParams())


def test_submit_resolves_the_seed_and_announces_the_queue_position(service: TaskService) -> None:
    first = service.submit(TaskParams(prompt="a"))
    second = service.submit(TaskParams(prompt="b", seed=7), task_id="task(mine)")
    assert first.params.seed >= 0 and second.params.seed == 7 and second.id == "task(mine)"
    events = service.store.events_since(second.id)
    assert events[0].type is EventType.QUEUED and events[0].data == {"position": 2, "size": 2}
    assert service.get(second.id).progress.textinfo == "In queue: 2/2"


def test_interrupting_a_queued_task_cancels_it_and_moves_the_queue(service: TaskService) -> None:
    first, second = service.submit(TaskParams()), service.submit(TaskParams())
    assert service.interrupt(first.id).state is TaskState.CANCELLED
    assert service.get(second.id).progress.textinfo == "In queue: 1/1"
    assert [e.type for e in service.events(first.id)] == [EventType.QUEUED, EventType.CANCELLED]


def test_a_watcher_is_told_each_change_of_its_place_live_and_nothing_is_stored(service: TaskService) -> None:
    first, second, third = (service.submit(TaskParams()) for _ in range(3))
    stream = service.events(third.id, timeout=10)
    assert next(stream).data == {"position": 3, "size": 3}  # the stored event of its submission
    service.store.claim_next("w")
    service.start(first, StopToken(), "cpu")
    moved = next(stream)
    assert (moved.type, moved.seq, moved.data) == (EventType.QUEUED, 1, {"position": 2, "size": 2})
    service.cancel(second.id)
    assert next(stream).data == {"position": 1, "size": 1}
    assert [e.type for e in service.store.events_since(third.id)] == [EventType.QUEUED]  # the one from its submission
    late = service.events(third.id, timeout=10)  # a watcher that comes later is told the place now
    assert [next(late).data, next(late).data] == [{"position": 3, "size": 3}, {"position": 1, "size": 1}]
    service.store.claim_next("w")
    service.start(third, StopToken(), "cpu")
    assert next(stream).type is EventType.STARTED


def test_stop_requests_for_a_running_task_reach_control_handlers(service: TaskService) -> None:
    task = service.submit(TaskParams())
    seen: list[tuple[str, StopRequest]] = []
    service.on_stop_request(lambda task_id, request: seen.append((task_id, request)))
    service.skip(task.id)  # not running yet: nothing to skip
    assert seen == []
    service.store.claim_next("w")
    service.interrupt(task.id, keep_partial=True)
    # Announced once, after the durable write (a worker that registers its token later reads the store).
    assert [(task_id, request.model_copy(update={"at": None})) for task_id, request in seen] == [
        (task.id, StopRequest(action="interrupt", keep_partial=True))]
    assert seen[0][1].at is not None  # when it was asked, for the task's view
    assert service.get(task.id).stop_request == seen[0][1]


def test_a_stop_stored_before_the_worker_listened_reaches_its_token(service: TaskService) -> None:
    task = service.submit(TaskParams())
    service.store.claim_next("w")
    service.interrupt(task.id, reason="early")  # nobody listens yet
    token = StopToken()
    service.start(task, token, "cpu")
    assert token.pending is not None and token.pending.reason == "early"


def test_queue_limits_hold_for_every_entry_point(tmp_path: Path) -> None:
    """Enforced by the service inside the store's transaction, so the CLI and Python API obey them too."""
    limits = TaskLimits(max_active_per_identity=2, max_queued_total=3)
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), limits)
    service.submit(TaskParams(), owner="a")
    service.submit(TaskParams(), owner="a")
    with pytest.raises(QueueFull, match="already have 2"):
        service.submit(TaskParams(), owner="a")
    service.submit(TaskParams(), owner="b")
    with pytest.raises(QueueFull, match="queue is full") as caught:
        service.submit(TaskParams(), owner="c")
    assert caught.value.retry_after_s >= 1
    assert service.store.count() == 3


def test_events_replay_then_follow_live_without_gaps(service: TaskService) -> None:
    task = service.submit(TaskParams())
    service.store.claim_next("w")
    context = service.start(task, StopToken(), "cpu")
    stream = service.events(task.id, timeout=10)
    replayed = [next(stream), next(stream)]  # queued, started: from the store; the stream follows the bus now
    for step in range(1, 4):
        context.report_progress(TaskProgress(step=step))
    service.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    events = replayed + list(stream)
    assert [e.seq for e in events] == list(range(1, 7))
    assert events[-1].type is EventType.COMPLETED
    assert [e.seq for e in service.events(task.id, after_seq=4)] == [5, 6]  # resume after a reconnect


def test_a_blocking_wait_replays_the_end_a_lost_bus_connection_swallowed(service: TaskService, run_coroutine) -> None:
    task = service.submit(TaskParams())
    service.store.claim_next("w")
    waiting = asyncio.Event()
    subscribe = service.bus.subscribe

    def subscribe_and_signal(*args, **kwargs):  # tells the test when the waiter blocks on live events
        subscription = subscribe(*args, **kwargs)
        aget = subscription.aget

        async def signalled(timeout: float | None = None):
            waiting.set()
            return await aget(timeout)

        subscription.aget = signalled
        return subscription

    service.bus.subscribe = subscribe_and_signal

    async def scenario() -> TaskState:
        waiter = asyncio.create_task(service.await_end(task.id))
        await waiting.wait()  # the blocking route (A1111 txt2img) waits with no heartbeat
        service.store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))  # stored, its publish lost
        service.bus.lag_all()  # what the distributed bus does when its connection comes back
        return (await asyncio.wait_for(waiter, timeout=30)).state

    assert run_coroutine(scenario()) is TaskState.COMPLETED
