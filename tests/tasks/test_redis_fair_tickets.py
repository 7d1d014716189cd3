"""The Redis store's queue entries as tickets (fair turns): a claim that runs another task than the one its entry
was added for swaps the two tasks' entries, and everything that follows an entry (a cancel, a take-over of a dead
worker's task, the end) follows the swap; nothing is left behind in the stream or the bindings."""

from __future__ import annotations

from pixelforge.stores.redis.keys import WORKERS_GROUP
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import EventType, StopRequest, Task, TaskEnd, TaskParams, TaskState, new_task_id
from pixelforge.testing.redis_server import RedisServer
from tests.tasks import test_redis_store

# The Redis store tests' fixtures: a fresh namespace and a store on it.
namespace, store = test_redis_store.namespace, test_redis_store.store


def add(store: RedisTaskStore, owner: str) -> Task:
    return store.create(Task(id=new_task_id(), owner=owner, params=TaskParams(prompt="p")))[0]


def test_a_cancel_after_a_swap_drops_the_entry_the_task_holds_now(store: RedisTaskStore) -> None:
    a1, a2, b1 = add(store, "a"), add(store, "a"), add(store, "b")
    entries = {t.id: store.redis.hget(store.keys.task(t.id), "entry") for t in (a1, a2, b1)}
    first, second = store.claim_next("w1"), store.claim_next("w2")
    assert first is not None and second is not None and (first.id, second.id) == (a1.id, b1.id)
    # w2 read a2's entry: b1 runs on it, a2 holds b1's, not yet delivered
    assert store.redis.hget(store.keys.task(b1.id), "entry") == entries[a2.id]
    assert store.redis.hget(store.keys.task(a2.id), "entry") == entries[b1.id]
    store.request_stop(a2.id, StopRequest(action="interrupt"))
    assert store.claim_next("w3") is None  # no ticket left for a task that is gone
    for task, worker in ((a1, "w1"), (b1, "w2")):
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED, worker_id=worker))
    assert store.redis.xlen(store.keys.queue) == 0
    assert store.redis.xpending(store.keys.queue, WORKERS_GROUP)["pending"] == 0
    assert store.redis.hlen(store.keys.bound) == 0


def test_a_dead_worker_s_swapped_entry_is_taken_over_for_the_task_it_runs(redis_server: RedisServer,
                                                                          namespace: str,
                                                                          store: RedisTaskStore) -> None:
    a1, a2, b1 = add(store, "a"), add(store, "a"), add(store, "b")
    store.claim_next("w1")
    running = store.claim_next("w2")  # on a2's entry
    assert running is not None and running.id == b1.id
    store.finish(a1.id, TaskEnd(state=TaskState.COMPLETED, worker_id="w1"))  # w2's is the one entry pending
    # lease_s=0: w2's entry is overdue at once (w2 died), reached without waiting on a clock
    impatient = RedisTaskStore(redis_server.url, namespace, lease_s=0)
    try:
        again = impatient.claim_next("w3")
    finally:
        impatient.close()
    assert again is not None and again.id == b1.id and again.state is TaskState.RUNNING
    requeued = store.events_since(b1.id)[-1]
    assert requeued.type is EventType.QUEUED and requeued.data["attempt"] == 2  # its run again, said so
    assert store.get(a2.id).state is TaskState.QUEUED  # the take-over ran b1 again, never a2
    assert store.queued_ids() == [a2.id]
    rest = store.claim_next("w4")
    assert rest is not None and rest.id == a2.id
