"""The workers' side of the Redis store: heartbeats (each renews the lease on the worker's task), the workers
alive now, and those lost (their heartbeat expired without their leaving)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import redis

from pixelforge.stores.redis.keys import WORKERS_GROUP, RedisKeys
from pixelforge.stores.redis.reachable import reachable
from pixelforge.tasks.model import WorkerInfo


class WorkerPresence:
    """Part of RedisTaskStore, which gives it its connection, keys and scripts."""

    redis: redis.Redis
    keys: RedisKeys
    _run: Callable[[str, list[str], list[Any]], Any]

    @reachable
    def heartbeat(self, info: WorkerInfo, ttl_s: float) -> list[str]:
        """Say that the worker is alive (for ``ttl_s``) and renew the lease on its task; returns the queue
        entries it still holds (none while it runs a task: it lost that task to another worker)."""
        record = info.model_dump_json()
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.worker(info.worker_id), record, px=int(ttl_s * 1000))
        pipe.hset(self.keys.known_workers, info.worker_id, record)
        pipe.execute()
        renewed = self._run("RENEW", [self.keys.queue],
                            [WORKERS_GROUP, info.worker_id, self.keys.task(""), info.task_id or ""])
        return [e.decode() for e in renewed]

    @reachable
    def workers(self) -> list[WorkerInfo]:
        """The workers alive now (their heartbeat has not expired), by id."""
        keys = sorted(self.redis.scan_iter(match=self.keys.workers_pattern, count=500))
        values = cast(list[bytes | None], self.redis.mget(keys)) if keys else []
        return [WorkerInfo.model_validate_json(v) for v in values if v is not None]

    @reachable
    def lost_workers(self, forget_after_s: float) -> list[WorkerInfo]:
        """The workers whose heartbeat expired without their leaving (killed, cut off), each as its last heartbeat
        told it; one lost for longer than ``forget_after_s`` is forgotten."""
        known = cast(dict[bytes, bytes], self.redis.hgetall(self.keys.known_workers))
        if not known:
            return []
        ids = sorted(known)
        pipe = self.redis.pipeline(transaction=False)
        for worker_id in ids:
            pipe.exists(self.keys.worker(worker_id.decode()))
        lost, now = [], time.time()
        for worker_id, beating in zip(ids, pipe.execute(), strict=True):
            if beating:
                continue
            info = WorkerInfo.model_validate_json(known[worker_id])
            if now - info.heartbeat_at > forget_after_s:
                self.redis.hdel(self.keys.known_workers, worker_id.decode())
            else:
                lost.append(info)
        return lost

    @reachable
    def forget_worker(self, worker_id: str) -> None:
        """A worker that shuts down cleanly leaves at once instead of when its heartbeat expires (and is not lost)."""
        self.redis.hdel(self.keys.known_workers, worker_id)
        self.redis.delete(self.keys.worker(worker_id))
        self.redis.xgroup_delconsumer(self.keys.queue, WORKERS_GROUP, worker_id)
