"""Composition roots of distributed mode: API servers and workers that share one Redis server.

``ApiRuntime`` is what ``pixelforge serve --redis URL`` runs: the task service over the Redis store and
bus, no engine (any number of them may run). ``WorkerProcess`` is ``pixelforge worker --redis URL``: one
worker on one device, the same ``Worker`` as in one process, plus a heartbeat that advertises its
device and model, renews the lease on its task and re-reads the task's stored stop request (so a stop
published while this worker's pub/sub connection was down still lands).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from pixelforge.config import Settings
from pixelforge.stores.redis.bus import RedisEventBus
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import EventType, TaskState, WorkerHealth, WorkerInfo
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.store import StoreUnavailable

log = logging.getLogger(__name__)

# A worker beats this many times per lease: a missed beat or two never costs it its task.
BEATS_PER_LEASE = 3
# How long the health route names a worker that was lost (its heartbeat expired without its leaving: killed, cut
# off) and answers 503 for it; then it is forgotten (a restarted worker has another id).
LOST_WORKER_SHOWN_S = 60.0
# How long the health route waits for Redis to answer a PING before it answers 503 naming Redis.
REDIS_HEALTH_TIMEOUT_S = 1.0


def redis_service(settings: Settings) -> TaskService:
    """The task service over the Redis store and bus that ``settings.redis_url`` names."""
    from pixelforge.runtime import task_service

    if settings.redis_url is None:
        raise ValueError("distributed mode needs a Redis URL (--redis redis://host:port/0)")
    store = RedisTaskStore(settings.redis_url, settings.redis_namespace, settings.worker_lease_s,
                           settings.worker_max_attempts, settings.split_batches, settings.queue_policy)
    return task_service(settings, store, RedisEventBus(store.redis, settings.redis_namespace),
                        workers=lambda: len(store.workers()))


def _redis_store(service: TaskService) -> RedisTaskStore:
    assert isinstance(service.store, RedisTaskStore)
    return service.store


class ApiRuntime:
    """An API server of a distributed deployment: it queues, stops and watches; the workers run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.service = redis_service(settings)

    def start(self) -> None:
        """Nothing to recover: a task whose worker died is taken over by another when its lease runs out."""

    def worker_infos(self) -> list[WorkerInfo]:
        return _redis_store(self.service).workers()

    def store_problem(self) -> str | None:
        """Redis that does not answer at once, said as such (the health route answers 503 with it)."""
        return _redis_store(self.service).unanswered(REDIS_HEALTH_TIMEOUT_S)

    def worker_health(self) -> list[WorkerHealth]:
        """The workers whose heartbeat is fresh, as each judges itself (its task loop ended, stuck, its last
        error), then those lost within ``LOST_WORKER_SHOWN_S`` (their heartbeat expired without their leaving)."""
        fields = set(WorkerHealth.model_fields)
        alive = [WorkerHealth.model_validate(w.model_dump(include=fields)) for w in self.worker_infos()]
        return alive + [_lost(info) for info in _redis_store(self.service).lost_workers(LOST_WORKER_SHOWN_S)]

    def stop(self) -> None:
        self.service.bus.close()
        self.service.store.close()


def _lost(info: WorkerInfo) -> WorkerHealth:
    silent_s = max(0.0, time.time() - info.heartbeat_at)
    task = f"; its task {info.task_id} is requeued for another worker" if info.task_id else ""
    return WorkerHealth(worker_id=info.worker_id, alive=False, task_id=info.task_id, last_error=info.last_error,
                        problem=f"lost: no heartbeat for {silent_s:.0f} s (killed, or cut off from Redis){task}")


def default_worker_id() -> str:
    """Unique per process: a restarted worker never mistakes the entries of its previous life for its own."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class WorkerProcess:
    """One worker of a distributed deployment, on one device."""

    def __init__(self, settings: Settings, worker_id: str | None = None) -> None:
        from pixelforge.backends.diffusers import DiffusersBackend
        from pixelforge.engine.tokens import TokenRegistry
        from pixelforge.engine.worker import Worker

        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.service = redis_service(settings)
        self.store = _redis_store(self.service)
        self.tokens = TokenRegistry(self.service.subscribe(types=frozenset({EventType.CANCELLED})))
        self._unregister_tokens = self.service.on_stop_request(self.tokens.deliver)
        self.backend = DiffusersBackend(settings)
        self.worker = Worker(self.service, self.backend, settings, self.tokens, worker_id=self.worker_id)
        self._closing = threading.Event()
        self._beat_every_s = settings.worker_lease_s / BEATS_PER_LEASE
        self._heart = threading.Thread(target=self._heartbeats, name="pixelforge-heartbeat", daemon=True)

    def start(self) -> None:
        """Load the model first (a worker advertises only what it holds), then claim and beat (its first beat
        says its task loop runs; a task claimed before it has a fresh entry that no lease can take over yet)."""
        self.worker.preload()
        self.worker.start()
        self.heartbeat()
        self._heart.start()

    def heartbeat(self) -> None:
        """Say this worker is alive, what it holds and how it is, renew its task's lease (first: nothing read
        before may keep it from being renewed), then apply a stored stop request."""
        info = self.worker.info().model_copy(update={"heartbeat_at": time.time()})
        held = self.store.heartbeat(info, ttl_s=self.settings.worker_lease_s)
        if info.task_id is None:
            return
        if not held:  # its lease ran out (a stall, a cut-off link): another worker runs it now
            token = self.tokens.running(info.task_id)
            if token is not None:
                log.warning("%s lost %s to another worker; stopping its own run", self.worker_id, info.task_id)
                token.interrupt(reason="lease-lost")
            return
        task = self.service.get(info.task_id)
        if task.stop_request is not None and task.state is TaskState.RUNNING:
            self.tokens.deliver(task.id, task.stop_request)

    def _heartbeats(self) -> None:
        while True:
            self.worker.took_task.wait(self._beat_every_s)  # every beat period, and at once on taking a task
            self.worker.took_task.clear()
            if self._closing.is_set():
                return
            try:
                self.heartbeat()
            except StoreUnavailable:
                log.warning("%s could not reach Redis for its heartbeat; trying again", self.worker_id)
            except Exception:  # a heartbeat that dies would let the lease run out under a healthy worker
                log.exception("%s heartbeat failed", self.worker_id)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` (True) or ``timeout``."""
        return self._closing.wait(timeout)

    def stop(self) -> None:
        """Interrupt the running task (reason ``shutdown``), leave the deployment, close the connections."""
        self._closing.set()
        self.worker.took_task.set()  # wakes the heartbeat thread, which sees the closing
        self.worker.stop()
        if self._heart.is_alive():
            self._heart.join(self._beat_every_s + 5)
        self._unregister_tokens()
        try:
            self.store.forget_worker(self.worker_id)
        except StoreUnavailable:  # its heartbeat expires instead
            log.warning("%s could not leave the deployment: Redis is unreachable", self.worker_id)
        self.service.bus.close()
        self.store.close()
