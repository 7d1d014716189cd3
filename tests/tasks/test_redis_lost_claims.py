"""A claim whose reply was lost (issue 25.4b): Redis went away as a worker claimed, so the worker dropped the task
while Redis had delivered its entry (and maybe run the claim). The worker re-reads its own pending entry at every
look for work, which keeps the entry from ever idling long enough for another worker's take-over: the worker itself
must run it, or the task stays queued or running forever."""

from __future__ import annotations

import time
import uuid

import pytest

from pixelforge.stores.redis.keys import WORKERS_GROUP
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import Task, TaskEnd, TaskParams, TaskState
from pixelforge.tasks.queue_order import NEVER_SERVED
from pixelforge.testing.redis_server import RedisServer


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


def _store(url: str, namespace: str, lease_s: float) -> RedisTaskStore:
    return RedisTaskStore(url, namespace, lease_s=lease_s)


def _delivered(store: RedisTaskStore, worker_id: str, claim_ran: bool) -> Task:
    """A task whose queue entry Redis delivered to ``worker_id`` (and, with ``claim_ran``, whose claim it stored),
    while the worker never got the reply."""
    task = store.create(Task(id=f"task({uuid.uuid4().hex})", params=TaskParams(prompt="p")))[0]
    reply = store.redis.xreadgroup(WORKERS_GROUP, worker_id, {store.keys.queue: ">"}, count=1)
    entry_id = reply[0][1][0][0]
    if claim_ran:
        store._run("CLAIM", [store.keys.queued, store.keys.queue, store.keys.turns],
                   [task.id, worker_id, repr(time.time()), entry_id, WORKERS_GROUP, "", store.keys.task(""),
                    store.queue_policy, NEVER_SERVED])
        assert store.get(task.id).state is TaskState.RUNNING
    return task


@pytest.mark.parametrize("claim_ran", [False, True], ids=["before-the-claim", "claim-stored-reply-lost"])
def test_the_worker_runs_the_task_whose_claim_reply_it_lost(redis_url: str, claim_ran: bool) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    store = _store(redis_url, namespace, lease_s=30)
    try:
        task = _delivered(store, "w1", claim_ran)
        for _ in range(3):  # its looks for work while the lease runs: its own entry is read, never delivered again
            found = store.claim_next("w1")
            if found is not None:  # the claim had not run: an ordinary claim of its own entry
                assert not claim_ran and found.id == task.id
                break
        pending = store.redis.xpending_range(store.keys.queue, WORKERS_GROUP, "-", "+", 10)
        assert [p["times_delivered"] for p in pending] == [1]  # so its idle time grows: it can fall overdue
        if claim_ran:
            overdue = _store(redis_url, namespace, lease_s=0)  # as once the lease has run out
            try:
                again = overdue.claim_next("w1")  # the same worker, which runs nothing: it runs the task now
            finally:
                overdue.close()
            assert again is not None and again.id == task.id and again.state is TaskState.RUNNING
        store.finish(task.id, TaskEnd(state=TaskState.COMPLETED, worker_id="w1"))
        assert store.get(task.id).state is TaskState.COMPLETED
        assert store.claim_next("w1") is None  # nothing pending is left behind
        assert store.redis.xpending(store.keys.queue, WORKERS_GROUP)["pending"] == 0
    finally:
        store.close()
