"""What only the Redis store does: leases on the queue stream (a dead worker's task taken over, or failed
after its attempts), heartbeats, and reconnecting through a Redis restart without losing the queue.

The store contract (``test_store_contract.py``) runs on Redis too; these are the distributed parts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelforge.stores.redis.bus import RedisEventBus
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import EventType, StopRequest, Task, TaskEnd, TaskParams, TaskState, WorkerInfo
from pixelforge.tasks.store import StoreUnreadable, TaskTakenOver
from pixelforge.testing.redis_server import RedisServer


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def store(redis_server: RedisServer, namespace: str) -> Iterator[RedisTaskStore]:
    made = RedisTaskStore(redis_server.url, namespace)
    yield made
    made.close()


def add(store: RedisTaskStore) -> Task:
    return store.create(Task(id=f"task({uuid.uuid4().hex})", params=TaskParams(prompt="p")))[0]


def test_a_task_whose_worker_stops_renewing_its_lease_is_taken_over_then_failed(
    redis_server: RedisServer, namespace: str, store: RedisTaskStore
) -> None:
    # lease_s=0: every entry is overdue at once, so the take-over is reached without waiting on a clock.
    impatient = RedisTaskStore(redis_server.url, namespace, lease_s=0, max_attempts=2)
    bus = RedisEventBus(redis_server.url, namespace)
    try:
        task, other = add(store), add(store)
        assert store.claim_next("w1") is not None
        taken = impatient.claim_next("w2")
        assert taken is not None and taken.id == task.id and taken.state is TaskState.RUNNING
        requeued = store.events_since(task.id)[-1]
        assert requeued.type is EventType.QUEUED and "worker w1 stopped" in requeued.data["requeued"]
        assert requeued.data["attempt"] == 2
        assert store.heartbeat(WorkerInfo(worker_id="w1", device="cpu", task_id=task.id), ttl_s=5) == []  # it lost it
        assert len(store.heartbeat(WorkerInfo(worker_id="w2", device="cpu", task_id=task.id), ttl_s=5)) == 1
        with pytest.raises(TaskTakenOver, match="now run by worker w2"):  # w1 was only stalled: its end is dropped
            store.finish(task.id, TaskEnd(state=TaskState.INTERRUPTED, stop_reason="user", worker_id="w1"))
        assert store.get(task.id).state is TaskState.RUNNING

        with bus.subscribe(task.id) as watcher:
            # w2 dies as well: no attempt is left, so the task fails with the reason, published for watchers.
            assert impatient.claim_next("w3").id == other.id  # the failed one is not run again
            failed = watcher.get(10)
        assert failed is not None and failed.type is EventType.FAILED and failed.data["reason"] == "worker-lost"
        after = store.get(task.id)
        assert after.state is TaskState.FAILED and "2 attempt(s)" in (after.error or "")
        assert store.events_since(task.id)[-1] == failed
        assert store.get(other.id).state is TaskState.RUNNING  # the other task is untouched
    finally:
        bus.close()
        impatient.close()


def test_a_renewed_lease_keeps_the_task_and_a_finished_task_leaves_the_queue(
    redis_server: RedisServer, namespace: str, store: RedisTaskStore
) -> None:
    task = add(store)
    assert store.claim_next("w1") is not None
    store.heartbeat(WorkerInfo(worker_id="w1", device="cpu", task_id=task.id), ttl_s=5)
    assert [w.task_id for w in store.workers()] == [task.id]
    patient = RedisTaskStore(redis_server.url, namespace, lease_s=60)
    try:
        assert patient.claim_next("w2") is None  # renewed just now: not overdue
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED))
        acknowledged = store.heartbeat(WorkerInfo(worker_id="w1", device="cpu", task_id=task.id), ttl_s=5)
        assert acknowledged == []
        assert RedisTaskStore(redis_server.url, namespace, lease_s=0).claim_next("w3") is None
    finally:
        patient.close()
    store.forget_worker("w1")
    assert store.workers() == []


def test_a_cancelled_task_is_never_claimed(store: RedisTaskStore) -> None:
    cancelled, kept = add(store), add(store)
    store.request_stop(cancelled.id, StopRequest(action="interrupt"))
    claimed = store.claim_next("w")
    assert claimed is not None and claimed.id == kept.id
    assert store.claim_next("w") is None


def test_store_and_bus_reconnect_after_redis_is_killed_and_nothing_queued_is_lost(
    tmp_path: Path, namespace: str
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    store, bus, peer = (RedisTaskStore(server.url, namespace), RedisEventBus(server.url, namespace),
                        RedisEventBus(server.url, namespace))
    try:
        queued = [add(store) for _ in range(3)]
        assert store.claim_next("w") is not None
        server.kill()
        server.start()  # same port, same append-only file
        assert store.queued_ids() == [t.id for t in queued[1:]]  # the command reconnects with back-off
        assert store.get(queued[0].id).state is TaskState.RUNNING
        with peer.subscribe(queued[1].id) as watcher:
            event = store.append_event(queued[1].id, EventType.PROGRESS, {})
            received = None
            while received is None:  # pub/sub is back once the listener has resubscribed
                bus.publish(event)
                received = watcher.get(0.2)
            assert received == event
        claimed = store.claim_next("w")
        assert claimed is not None and claimed.id == queued[1].id
    finally:
        peer.close()
        bus.close()
        store.close()
        server.stop()


def test_a_task_goes_to_a_free_worker_that_holds_its_model(store: RedisTaskStore) -> None:
    store.heartbeat(WorkerInfo(worker_id="w1", device="cpu", models=["sprite"]), ttl_s=5)
    store.heartbeat(WorkerInfo(worker_id="w2", device="cuda:0", models=["qwen-image"]), ttl_s=5)
    big = store.create(Task(id="task(big)", params=TaskParams(prompt="p", model="qwen-image")))[0]
    small = add(store)
    claimed = store.claim_next("w1")  # w1 does not hold qwen-image and w2 is free: the big one is w2's
    assert claimed is not None and claimed.id == small.id
    assert store.get(big.id).position == 1  # still queued, first in line
    handed = store.claim_next("w2")
    assert handed is not None and handed.id == big.id
    store.heartbeat(WorkerInfo(worker_id="w2", device="cuda:0", models=["qwen-image"], task_id=big.id), ttl_s=5)
    busy = store.create(Task(id="task(big-2)", params=TaskParams(prompt="p", model="qwen-image")))[0]
    store.finish(small.id, TaskEnd(state=TaskState.COMPLETED))
    again = store.claim_next("w1")  # the holder is busy: w1 loads it rather than leave it waiting
    assert again is not None and again.id == busy.id


# '': a namespace with data but no stamp (a development build's, from before it); '2': a newer pixelforge's.
@pytest.mark.parametrize("version", ["", "2"])
def test_a_namespace_of_another_schema_version_is_refused_and_left_as_it_is(
    redis_server: RedisServer, namespace: str, store: RedisTaskStore, version: str
) -> None:
    """Nothing was released before the schema was stamped: there is no older layout to migrate."""
    task = add(store)
    assert store.redis.get(store.keys.schema) == b"1"  # stamped by the first store that opened it
    RedisTaskStore(redis_server.url, namespace).close()  # a second one reads the stamp
    if version:
        store.redis.set(store.keys.schema, version)
    else:
        store.redis.delete(store.keys.schema)
    before = {key: store.redis.type(key) for key in store.redis.scan_iter(match=f"{namespace}:*")}
    with pytest.raises(StoreUnreadable, match=f"version {version or 0}, this pixelforge reads version 1 only"):
        RedisTaskStore(redis_server.url, namespace)
    assert {key: store.redis.type(key) for key in store.redis.scan_iter(match=f"{namespace}:*")} == before
    assert store.get(task.id).params.prompt == "p"
