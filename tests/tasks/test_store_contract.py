"""What any TaskStore and event bus must do, run against every implementation.

Add an implementation to ``IMPLEMENTATIONS`` (a Redis store and bus, say) and it must pass all of
this unchanged: queue order and atomic claims, queue places computed when read (a queue move writes
nothing per queued task), gapless per-task event sequences and their replay, stop requests that
reach the running task, queue moves that wake only the subscribers that asked for them, and
recovery after a crash.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixelforge.stores.redis.bus import RedisEventBus
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import SUBSCRIPTION_BUFFER, EventBus, InProcessBus
from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    StopRequest,
    Task,
    TaskEnd,
    TaskLimits,
    TaskParams,
    TaskProgress,
    TaskState,
    new_task_id,
)
from pixelforge.tasks.store import QueueFull, TaskExists, TaskNotFound, TaskStore


@dataclass
class Backend:
    store: TaskStore
    bus: EventBus
    reopen: Callable[[], TaskStore]  # a new store on the same data, as a restarted process gets it
    peer: Callable[[], EventBus]  # the bus of another process on the same data (the same bus in one process)


def _sqlite_in_process(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    path = tmp_path / "tasks.sqlite3"
    bus = InProcessBus()
    return Backend(SQLiteTaskStore(path), bus, lambda: SQLiteTaskStore(path), lambda: bus)


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    url, namespace = request.getfixturevalue("redis_server").url, f"test-{uuid.uuid4().hex}"
    return Backend(
        RedisTaskStore(url, namespace),
        RedisEventBus(url, namespace),
        lambda: RedisTaskStore(url, namespace),
        lambda: RedisEventBus(url, namespace),
    )


IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "sqlite+in-process": _sqlite_in_process,
    "redis": _redis,
}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = IMPLEMENTATIONS[request.param](request, tmp_path)
    yield made
    made.bus.close()
    made.store.close()


@pytest.fixture
def store(backend: Backend) -> TaskStore:
    return backend.store


def add(store: TaskStore, owner: str = "local", limits: TaskLimits | None = None) -> Task:
    return store.create(Task(id=new_task_id(), owner=owner, params=TaskParams(prompt="p")), limits)[0]


def image(index: int) -> ImageRef:
    return ImageRef(index=index, job_no=0, seed=index, path=f"images/{index}.png", width=8, height=8)


# --- tasks and the queue -----------------------------------------------------------------------
def test_fifo_claims_and_queue_positions(store: TaskStore) -> None:
    first, second, third = add(store), add(store), add(store)
    assert [store.get(t.id).position for t in (first, second, third)] == [1, 2, 3]
    assert store.get(third.id).queue_size == 3
    claimed = store.claim_next("w")
    assert claimed is not None and claimed.id == first.id and claimed.state is TaskState.RUNNING
    assert store.get(first.id).position is None
    assert store.get(third.id).position == 2
    assert store.queued_ids() == [second.id, third.id]


def test_places_are_computed_and_a_queue_move_writes_nothing_per_queued_task(store: TaskStore) -> None:
    tasks = [add(store) for _ in range(5)]
    stored = {t.id: store.events_since(t.id) for t in tasks}
    store.claim_next("w")  # the first starts
    store.request_stop(tasks[2].id, StopRequest(action="interrupt"))  # the third is cancelled
    waiting = [tasks[1], tasks[3], tasks[4]]
    assert [store.get(t.id).position for t in waiting] == [1, 2, 3]
    assert {store.get(t.id).queue_size for t in waiting} == {3}
    assert [store.get(t.id).progress.textinfo for t in waiting] == ["In queue: 1/3", "In queue: 2/3", "In queue: 3/3"]
    listed = {t.id: (t.position, t.queue_size) for t in store.list(states=[TaskState.QUEUED])}
    assert listed == {tasks[1].id: (1, 3), tasks[3].id: (2, 3), tasks[4].id: (3, 3)}
    assert all(store.events_since(t.id) == stored[t.id] for t in waiting)  # no event per queued task
    assert all(t.position is None and t.queue_size is None for t in (store.get(tasks[0].id), store.get(tasks[2].id)))


def test_queued_ids_of_one_owner_keep_the_queue_order(store: TaskStore) -> None:
    a1, b1, a2, b2 = add(store, "a"), add(store, "b"), add(store, "a"), add(store, "b")
    store.claim_next("w")
    assert store.queued_ids() == [b1.id, a2.id, b2.id]
    assert store.queued_ids("a") == [a2.id] and store.queued_ids("b") == [b1.id, b2.id]
    assert store.queued_ids("nobody") == [] and a1.id not in store.queued_ids()


def test_create_appends_the_queued_event_with_the_position(store: TaskStore) -> None:
    add(store)
    task, event = store.create(Task(id="task(second)", params=TaskParams()))
    assert (task.position, task.queue_size) == (2, 2)
    assert (event.seq, event.type, event.data) == (1, EventType.QUEUED, {"position": 2, "size": 2})
    assert store.events_since(task.id) == [event]


def test_duplicate_and_unknown_ids_are_errors(store: TaskStore) -> None:
    task = add(store)
    with pytest.raises(TaskExists):
        store.create(Task(id=task.id, params=TaskParams()))
    with pytest.raises(TaskNotFound, match="unknown task id"):
        store.get("task(nope)")


def test_queue_limits_are_counted_with_the_write(store: TaskStore) -> None:
    limits = TaskLimits(max_active_per_identity=2, max_queued_total=3)
    add(store, "a", limits)
    add(store, "a", limits)
    with pytest.raises(QueueFull):
        add(store, "a", limits)
    add(store, "b", limits)
    with pytest.raises(QueueFull):
        add(store, "c", limits)
    store.claim_next("w")  # running still counts for its owner, no longer for the queue
    with pytest.raises(QueueFull):
        add(store, "a", limits)
    add(store, "c", limits)
    assert store.count() == 4


def test_concurrent_submissions_never_overshoot_a_limit(store: TaskStore) -> None:
    limits = TaskLimits(max_active_per_identity=100, max_queued_total=5)
    refused: list[QueueFull] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        try:
            add(store, limits=limits)
        except QueueFull as exc:
            refused.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count(states=[TaskState.QUEUED]) == 5 and len(refused) == 3


def test_every_task_is_claimed_exactly_once_by_concurrent_workers(store: TaskStore) -> None:
    tasks = [add(store) for _ in range(30)]
    claimed: list[str] = []
    lock = threading.Lock()

    def work(worker_id: str) -> None:
        while (task := store.claim_next(worker_id)) is not None:
            with lock:
                claimed.append(task.id)

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(claimed) == sorted(t.id for t in tasks)


def test_pause_stops_claims(store: TaskStore) -> None:
    add(store)
    store.set_paused(True)
    assert store.is_paused() and store.claim_next("w") is None
    store.set_paused(False)
    assert store.claim_next("w") is not None


def test_history_is_bounded_and_the_queue_is_never_pruned(store: TaskStore) -> None:
    finished = [add(store) for _ in range(5)]
    for task in finished:
        store.claim_next("w")
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    queued = add(store)
    pruned = store.prune(keep=2)
    assert {t.id for t in pruned} == {t.id for t in finished[:3]}
    assert store.count() == 3
    assert store.get(queued.id).state is TaskState.QUEUED


def test_the_history_keeps_what_finished_last_not_what_was_created_last(store: TaskStore) -> None:
    long_running, *quick = [add(store) for _ in range(4)]
    for _ in range(4):
        store.claim_next("w")
    for task in [*quick, long_running]:  # created first, finished last: the end a client is waiting for
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
    pruned = store.prune(keep=2)
    assert {t.id for t in pruned} == {t.id for t in quick[:2]}
    assert store.get(long_running.id).state is TaskState.COMPLETED


# --- events ------------------------------------------------------------------------------------
def test_events_get_gapless_per_task_sequence_numbers_under_concurrency(store: TaskStore) -> None:
    a, b = add(store), add(store)

    def append(task_id: str) -> None:
        for step in range(50):
            store.append_event(task_id, EventType.PROGRESS, {"step": step})

    threads = [threading.Thread(target=append, args=(t,)) for t in (a.id, b.id, a.id, b.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for task in (a, b):
        assert [e.seq for e in store.events_since(task.id)] == list(range(1, 102))  # queued + 100


def test_replay_returns_exactly_the_events_after_a_sequence_number(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    store.append_event(task.id, EventType.STARTED, {"worker_device": "cpu"})
    store.append_event(task.id, EventType.PROGRESS, {"step": 1}, TaskProgress(step=1))
    events = store.events_since(task.id)
    assert [(e.seq, e.type) for e in events] == [(1, "queued"), (2, "started"), (3, "progress")]
    assert store.events_since(task.id, after_seq=1) == events[1:]
    assert store.events_since(task.id, after_seq=3) == []
    assert store.get(task.id).progress.step == 1  # the progress event's progress is the task's


def test_results_and_terminal_state_come_with_their_events(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    image_event = store.add_image(task.id, image(0))
    assert image_event.type is EventType.IMAGE and image_event.data["path"] == "images/0.png"
    finished, end_event = store.finish(
        task.id, TaskEnd(state=TaskState.INTERRUPTED, stop_reason="user", sprite_sheet="images/sheet.png")
    )
    assert finished.state is TaskState.INTERRUPTED and finished.sprite_sheet == "images/sheet.png"
    assert end_event.type is EventType.INTERRUPTED and end_event.data["reason"] == "user"
    assert end_event.data["images"] == 1
    assert store.events_since(task.id)[-1] == end_event


def test_previews_get_increasing_ids_and_only_the_newest_are_kept(store: TaskStore) -> None:
    task = add(store)
    events = [store.add_preview(task.id, bytes([n]), "image/png") for n in range(1, 6)]
    assert [e.data["id"] for e in events] == [1, 2, 3, 4, 5]
    assert all(e.type is EventType.PREVIEW for e in events)
    assert store.get_preview(task.id) == (5, b"\x05", "image/png")
    assert store.get_preview(task.id, 1) is None
    assert store.get_preview(task.id, 3) == (3, b"\x03", "image/png")


# --- stopping ----------------------------------------------------------------------------------
def test_an_interrupt_cancels_a_queued_task_with_its_event(store: TaskStore) -> None:
    running, queued = add(store), add(store)
    store.claim_next("w")
    task, event = store.request_stop(queued.id, StopRequest(action="skip"))
    assert task.state is TaskState.QUEUED and event is None  # nothing to skip yet
    task, event = store.request_stop(queued.id, StopRequest(action="interrupt"))
    assert task.state is TaskState.CANCELLED and event is not None and event.type is EventType.CANCELLED
    assert store.claim_next("w") is None
    task, event = store.request_stop(running.id, StopRequest(action="interrupt"))
    assert task.state is TaskState.RUNNING and event is None and task.stop_request is not None


def test_a_skip_never_downgrades_an_interrupt_and_expires_with_its_job(store: TaskStore) -> None:
    task = add(store)
    store.claim_next("w")
    store.request_stop(task.id, StopRequest(action="skip"))
    store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=0, step=3))
    assert store.get(task.id).stop_request == StopRequest(action="skip")  # the job it ends still runs
    store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=1))
    assert store.get(task.id).stop_request is None
    store.request_stop(task.id, StopRequest(action="interrupt", keep_partial=True))
    store.request_stop(task.id, StopRequest(action="skip"))
    store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=2))
    request = store.get(task.id).stop_request
    assert request is not None and request.action == "interrupt" and request.keep_partial
    store.finish(task.id, TaskEnd(state=TaskState.INTERRUPTED))
    assert store.get(task.id).stop_request is None  # honoured
    finished, event = store.request_stop(task.id, StopRequest(action="interrupt"))
    assert finished.state is TaskState.INTERRUPTED and event is None  # a finished task stays as it is


def test_stop_requests_reach_every_control_handler_until_unregistered(backend: Backend) -> None:
    seen: list[tuple[str, StopRequest]] = []
    unregister = backend.bus.on_control(lambda task_id, request: seen.append((task_id, request)))
    request = StopRequest(action="interrupt", keep_partial=True, reason="user")
    backend.bus.publish_control("task(a)", request)
    unregister()
    backend.bus.publish_control("task(a)", request)
    assert seen == [("task(a)", request)]


# --- the bus -----------------------------------------------------------------------------------
def test_events_and_stop_requests_reach_the_other_processes(backend: Backend) -> None:
    store, bus, peer = backend.store, backend.bus, backend.peer()
    task = add(store)
    stops: list[tuple[str, StopRequest]] = []
    stopped = threading.Event()

    def on_stop(task_id: str, request: StopRequest) -> None:
        stops.append((task_id, request))
        stopped.set()

    unregister = peer.on_control(on_stop)
    try:
        with peer.subscribe(task.id) as watcher:
            event = store.append_event(task.id, EventType.STARTED, {"worker_device": "cpu"})
            bus.publish(event)
            assert watcher.get(10) == event
        request = StopRequest(action="interrupt", keep_partial=True)
        bus.publish_control(task.id, request)
        assert stopped.wait(10) and stops == [(task.id, request)]
        with peer.subscribe(task.id, queue_moves=True) as place_watcher:
            before = peer.queue_generation
            bus.publish_queue_moved()
            assert place_watcher.get(10) is None and place_watcher.take_queue_moved()
            assert peer.queue_generation > before  # counted before the watcher was woken
    finally:
        unregister()
        if peer is not bus:
            peer.close()


def test_subscribers_get_their_task_s_events_in_order_and_only_the_types_asked_for(backend: Backend) -> None:
    store, bus = backend.store, backend.bus
    a, b = add(store), add(store)
    with bus.subscribe(a.id) as of_a, bus.subscribe(types=frozenset({EventType.STARTED})) as starts:
        for task in (a, b):
            bus.publish(store.append_event(task.id, EventType.STARTED, {}))
            for step in range(3):
                bus.publish(store.append_event(task.id, EventType.PROGRESS, {"step": step}))
        got_a = [of_a.get(0) for _ in range(4)]
        assert [(e.task_id, e.seq) for e in got_a if e] == [(a.id, n) for n in range(2, 6)]
        assert of_a.get(0) is None
        assert [e.task_id for e in iter(lambda: starts.get(0), None)] == [a.id, b.id]


def test_queue_moves_wake_only_subscribers_that_asked_once_for_any_number(backend: Backend) -> None:
    bus = backend.bus
    with bus.subscribe("task(a)", queue_moves=True) as watcher, bus.subscribe("task(b)") as plain:
        assert not watcher.take_queue_moved()
        before = bus.queue_generation
        for _ in range(3):
            bus.publish_queue_moved()
        assert watcher.get(10) is None  # woken at once, with no event to give
        assert watcher.take_queue_moved() and not watcher.take_queue_moved()  # three moves, one flag
        assert bus.queue_generation >= before + 3  # but each move makes earlier readings of the places stale
        assert not plain.take_queue_moved() and plain.get(0) is None


def test_a_subscriber_that_falls_behind_is_told_to_replay(backend: Backend) -> None:
    store, bus = backend.store, backend.bus
    task = add(store)
    with bus.subscribe(task.id) as slow:
        for _ in range(SUBSCRIPTION_BUFFER + 1):
            bus.publish(store.append_event(task.id, EventType.PROGRESS, {}))
        assert slow.lagged  # the store has everything it missed
    assert len(store.events_since(task.id)) == SUBSCRIPTION_BUFFER + 2


# --- recovery ----------------------------------------------------------------------------------
def test_recovery_ends_running_tasks_with_their_event_and_keeps_the_queue(backend: Backend) -> None:
    store = backend.store
    running, queued = add(store), add(store)
    store.claim_next("w")
    store.add_image(running.id, image(0))
    store.close()
    reopened = backend.reopen()  # as after a crash
    try:
        events = reopened.recover()
        assert [(e.task_id, e.type) for e in events] == [(running.id, EventType.INTERRUPTED)]
        after = reopened.get(running.id)
        assert after.state is TaskState.INTERRUPTED and after.stop_reason == "restart"
        assert "stopped while this task was running" in (after.error or "")
        assert len(after.images) == 1  # finished images survive the crash
        assert reopened.events_since(running.id)[-1] == events[0]
        assert reopened.get(queued.id).state is TaskState.QUEUED
        assert reopened.recover() == []  # nothing left to repair
    finally:
        reopened.close()
        backend.store = backend.reopen()  # for the fixture's teardown
