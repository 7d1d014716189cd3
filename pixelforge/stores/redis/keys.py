"""Where distributed mode keeps things in Redis, and how every process connects to it.

One namespace (``pixelforge`` by default) holds one deployment: API servers, workers and tests that
share a Redis server never see each other's keys under different namespaces. The store and the bus
both name their keys here, so the two always agree on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

T = TypeVar("T")

DEFAULT_NAMESPACE = "pixelforge"
# A command retries through a Redis restart with back-off (0.05 s doubling up to 2 s) for up to 15 s in all, then
# it raises and the caller's own loop (a worker's claim loop, an HTTP request) deals with it.
RECONNECT_TRIES = 20
RECONNECT_CAP_S = 2.0
RECONNECT_TOTAL_S = 15.0
# A Redis that does not answer (stopped, overloaded, a network that drops packets) fails a command after this long
# instead of holding its caller for ever: every read and write is a few short commands.
SOCKET_TIMEOUT_S = 3.0
# Consumer group of the queue stream: every worker of a deployment is a consumer in it.
WORKERS_GROUP = "workers"

CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError)


class _RetryWithin(Retry):
    """redis-py's retries, bounded in time as well as in number: with a socket timeout, each try of a Redis that
    does not answer costs that timeout, and the tries alone would hold a caller for minutes."""

    def __init__(self, total_s: float) -> None:
        super().__init__(ExponentialBackoff(cap=RECONNECT_CAP_S, base=0.05), RECONNECT_TRIES)
        self.total_s = total_s

    def call_with_retry(self, do: Callable[[], T], fail: Callable[[Exception], Any], *args: Any, **kwargs: Any) -> T:
        deadline = time.monotonic() + self.total_s

        def fail_within(error: Exception) -> None:
            fail(error)
            if time.monotonic() >= deadline:
                raise error

        return super().call_with_retry(do, fail_within, *args, **kwargs)


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (redis://host:port/db) that reconnects with back-off when Redis restarts, and gives up
    on a Redis that does not answer within ``SOCKET_TIMEOUT_S`` per try and ``RECONNECT_TOTAL_S`` in all."""
    return redis.Redis.from_url(
        url,
        retry=_RetryWithin(RECONNECT_TOTAL_S),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=10,
        socket_keepalive=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
    )


def answers(client: redis.Redis, timeout_s: float) -> bool:
    """Whether the Redis server of ``client`` answers a PING within ``timeout_s``, on a connection of its own and
    without retries (the health route's look: never held by the retries of a Redis that is away)."""
    options = dict(client.connection_pool.connection_kwargs)
    options.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=None,
                   retry_on_error=[], retry_on_timeout=False, health_check_interval=0)
    probe = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=client.connection_pool.connection_class,
                                                             **options))
    try:
        return bool(probe.ping())
    except (*CONNECTION_ERRORS, OSError):
        return False
    finally:
        probe.close()


@dataclass(frozen=True)
class RedisKeys:
    namespace: str = DEFAULT_NAMESPACE

    def task(self, task_id: str) -> str:
        """Hash: the task record (JSON-valued fields, '' for None)."""
        return f"{self.namespace}:task:{task_id}"

    def events(self, task_id: str) -> str:
        """Stream: the task's events, entry id ``<seq>-0`` so that replay is a range read."""
        return f"{self.namespace}:events:{task_id}"

    def images(self, task_id: str) -> str:
        """Sorted set: the task's finished images (ImageRef JSON), scored by their index in the batch."""
        return f"{self.namespace}:images:{task_id}"

    def previews(self, task_id: str) -> str:
        """Hash: ``<id>`` -> preview bytes, ``<id>:type`` -> media type, for the newest few previews."""
        return f"{self.namespace}:previews:{task_id}"

    def active(self, owner: str) -> str:
        """Set: the owner's queued and running task ids (the per-identity limit counts it)."""
        return f"{self.namespace}:active:{owner}"

    def worker(self, worker_id: str) -> str:
        """String with a TTL: the worker's last heartbeat (WorkerInfo JSON); gone = the worker is dead."""
        return f"{self.namespace}:worker:{worker_id}"

    @property
    def workers_pattern(self) -> str:
        return f"{self.namespace}:worker:*"

    @property
    def known_workers(self) -> str:
        """Hash: worker id -> its last heartbeat (WorkerInfo JSON), kept after its heartbeat expires (a worker lost
        without leaving: killed, cut off) until it leaves cleanly or is forgotten."""
        return f"{self.namespace}:known-workers"

    @property
    def counter(self) -> str:
        """Integer: the last queue order handed out (creation order, the queue's and the history's)."""
        return f"{self.namespace}:order"

    @property
    def all_tasks(self) -> str:
        """Sorted set: every task id, scored by its queue order."""
        return f"{self.namespace}:tasks"

    @property
    def queued(self) -> str:
        """Sorted set: queued task ids by rank (creation order, changed by moves: ``tasks/queue_order.py``);
        positions follow it and the turns, computed on read."""
        return f"{self.namespace}:queued"

    @property
    def turns(self) -> str:
        """Sorted set: each identity served so far, scored by its turn (when it was last served; lower first)."""
        return f"{self.namespace}:turns"

    @property
    def queue(self) -> str:
        """Stream with the ``workers`` consumer group: one entry per task (or split task's job) to run. An entry
        read is a ticket: the claim runs the first queued task in the policy's order, and the entries of the two
        tasks are swapped (``bound``) when that is not the one the entry was added for."""
        return f"{self.namespace}:queue"

    @property
    def schema(self) -> str:
        """String: the namespace's schema version (``SCHEMA_VERSION`` of the store that first opened it)."""
        return f"{self.namespace}:schema"

    @property
    def bound(self) -> str:
        """Hash: entry id -> the task it runs, for the entries swapped by a claim (the stream's own ``task`` field
        names the task for the others). Its name is the queue's with ``:bound``: the scripts derive it so."""
        return f"{self.queue}:bound"

    @property
    def paused(self) -> str:
        return f"{self.namespace}:paused"

    @property
    def event_channel(self) -> str:
        """Pub/sub: every task event, for the watchers of every server."""
        return f"{self.namespace}:bus:events"

    @property
    def control_channel(self) -> str:
        """Pub/sub: stop requests, for the workers."""
        return f"{self.namespace}:bus:control"
