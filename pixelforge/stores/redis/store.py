"""Redis TaskStore for distributed mode: any number of API servers and workers share one Redis server.

Task records are hashes, each task's events a stream (entry id ``<seq>-0``, so ``Last-Event-ID``
replay is one range read through any server), the queue a stream read by the ``workers`` consumer
group: a claim is a delivery, the terminal transition acknowledges it, and an entry whose worker
stops renewing its lease is taken over with ``XAUTOCLAIM`` (run again, up to ``max_attempts``, or
failed with its reason); a whole task's entry is a ticket for the first task in the queue policy's order
(``claim.lua``). Queue positions follow that order (ranks in a sorted set and the identities' turns), computed on
every read, never rewritten. Each write that a watcher sees is one Lua script with its event (the ``.lua`` files
beside this module, loaded by ``scripts.py``).
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

import redis
from redis.exceptions import ResponseError

from pixelforge.stores.redis import order, scripts
from pixelforge.stores.redis.keys import WORKERS_GROUP, RedisKeys, answers, connect
from pixelforge.stores.redis.reachable import reachable
from pixelforge.stores.redis.records import QueueEntry, StreamEntry, task_fields, task_from_record, text
from pixelforge.stores.redis.workers import WorkerPresence
from pixelforge.stores.sqlite import PREVIEWS_KEPT
from pixelforge.tasks.events import EndPayload, EventData, PreviewPayload, QueuedPayload, TaskEvent, payload_of
from pixelforge.tasks.history import HeldTask, beyond_limits
from pixelforge.tasks.model import (
    TERMINAL_STATES,
    EventType,
    ImageRef,
    JobClaim,
    StopRequest,
    Task,
    TaskEnd,
    TaskInputs,
    TaskLimits,
    TaskParams,
    TaskProgress,
    TaskState,
)
from pixelforge.tasks.progress import combined_progress, queued_progress
from pixelforge.tasks.queue_order import NEVER_SERVED, MoveTo, QueuePolicy
from pixelforge.tasks.store import (
    RECOVERED_ERROR,
    QueueFull,
    StoreUnreadable,
    TaskEnded,
    TaskExists,
    TaskNotFound,
    TaskTakenOver,
)

# The layout of a namespace's keys, stamped in it (``RedisKeys.schema``). No pixelforge was released before the stamp,
# so there is no older layout to upgrade from: a namespace of any other version is refused, never migrated.
SCHEMA_VERSION = 1

# A worker renews the lease on its task every heartbeat; one that has not for this long is dead.
DEFAULT_LEASE_S = 6.0
# How often a task may be started in all when its workers keep dying (1: fail at the first death).
DEFAULT_MAX_ATTEMPTS = 2

def _input_bytes(stored_inputs: bytes | None) -> int:
    return TaskInputs.model_validate_json(stored_inputs).bytes if stored_inputs else 0


class RedisTaskStore(WorkerPresence):
    def __init__(
        self,
        url_or_client: str | redis.Redis,
        namespace: str = "pixelforge",
        lease_s: float = DEFAULT_LEASE_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        split_batches: bool = False,
        queue_policy: QueuePolicy = "fair",
    ) -> None:
        """``split_batches``: a task created here with several jobs (batch_count > 1) gets a queue entry per job,
        so that free workers run its jobs at once; its images keep their order (by index). Those jobs run in the
        order they were queued in, whatever the policy: each of their entries runs its own job."""
        self.redis = connect(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.keys = RedisKeys(namespace)
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.split_batches = split_batches
        self.queue_policy = queue_policy
        self._scripts = {
            name: self.redis.register_script(getattr(scripts, name))
            for name in ("CREATE", "CLAIM", "TAKE_OVER", "APPEND_EVENT", "ADD_IMAGE", "ADD_PREVIEW", "FINISH",
                         "REQUEST_STOP", "RECOVER", "RENEW", "FINISH_JOB", "JOB_PROGRESS", "RETURN_JOB",
                         "SPLIT_PROGRESS", "CANCEL_QUEUED", "SCHEMA", "QUEUED_OWNERS")
        }
        self._check_schema()
        self._ensure_group()

    def _check_schema(self) -> None:
        """Stamp a new namespace with SCHEMA_VERSION; refuse one of another version (there is no older layout to
        migrate: nothing was released before the stamp)."""
        version = self._run("SCHEMA", [self.keys.schema, self.keys.queue], [SCHEMA_VERSION]).decode()
        if version != str(SCHEMA_VERSION):
            raise StoreUnreadable(
                f"redis namespace {self.keys.namespace!r}", f"its schema is version {version or 0}, this pixelforge "
                f"reads version {SCHEMA_VERSION} only (use another namespace: PIXELFORGE_REDIS_NAMESPACE)")

    def _ensure_group(self) -> None:
        """The queue's consumer group, created with the stream; again after a Redis that lost its data."""
        try:
            self.redis.xgroup_create(self.keys.queue, WORKERS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return self._scripts[name](keys=keys, args=args)

    def _task_and_events(self, task_id: str) -> list[str]:
        return [self.keys.task(task_id), self.keys.events(task_id)]

    def _load(self, task_ids: list[str]) -> list[Task]:
        """The tasks (skipping ids pruned meanwhile), positions filled in, read in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        for task_id in task_ids:
            pipe.hgetall(self.keys.task(task_id))
            pipe.zrange(self.keys.images(task_id), 0, -1)
        replies = pipe.execute()
        tasks = [task_from_record(record, images) for record, images in zip(replies[::2], replies[1::2], strict=True)
                 if record]
        if any(task.state is TaskState.QUEUED for task in tasks):
            queue = self._serving_ids()
            ahead = {task_id: n for n, task_id in enumerate(queue)}
            for task in tasks:
                if task.state is TaskState.QUEUED and task.id in ahead:
                    task.position, task.queue_size = ahead[task.id] + 1, len(queue)
                    task.progress = queued_progress(task.position, len(queue))  # always live, never stale
        return tasks

    @staticmethod
    def _event(task_id: str, seq: int, type: str, event_time: str, data: str) -> TaskEvent:
        return TaskEvent(task_id=task_id, seq=seq, type=EventType(type), time=float(event_time), data=json.loads(data))

    # --- tasks -----------------------------------------------------------------------------
    @reachable
    def create(self, task: Task, limits: TaskLimits | None = None) -> tuple[Task, TaskEvent]:
        now = repr(time.time())
        bounds = [limits.max_active_per_identity, limits.max_queued_total] if limits else [-1, -1]
        input_bounds = [limits.max_input_bytes_per_identity if limits else -1, task.inputs.bytes if task.inputs else 0,
                        self.keys.task("")]
        jobs = task.params.batch_count if self.split_batches and task.params.batch_count > 1 else 0
        k = self.keys
        reply = self._run(
            "CREATE",
            [k.task(task.id), k.all_tasks, k.queued, k.active(task.owner), k.queue, k.events(task.id), k.counter,
             k.turns],
            [task.id, *bounds, now, jobs, *input_bounds, self.queue_policy, NEVER_SERVED, *task_fields(task)],
        )
        status = reply[0].decode()
        if status == "exists":
            raise TaskExists(task.id)
        if status == "owner-full":
            assert limits is not None
            raise QueueFull.owner_full(limits)
        if status == "queue-full":
            assert limits is not None
            raise QueueFull.queue_full(limits)
        if status == "inputs-full":
            assert limits is not None
            raise QueueFull.inputs_full(limits)
        position, size = int(reply[2]), int(reply[3])
        task = task.model_copy()
        task.position, task.queue_size = position, size
        task.progress = queued_progress(position, size)
        event = TaskEvent(task_id=task.id, seq=1, type=EventType.QUEUED, time=float(now),
                          data=QueuedPayload(position=position, size=size))
        return task, event

    @reachable
    def get(self, task_id: str) -> Task:
        tasks = self._load([task_id])
        if not tasks:
            raise TaskNotFound(task_id)
        return tasks[0]

    def _matching_ids(self, owner: str | None, states: Iterable[TaskState] | None) -> list[str]:
        """Every task id (newest first) whose owner and state match; one round trip for the fields."""
        ids = [i.decode() for i in cast(builtins.list[bytes], self.redis.zrevrange(self.keys.all_tasks, 0, -1))]
        if owner is None and states is None:
            return ids
        wanted = None if states is None else {TaskState(s).value for s in states}
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hmget(self.keys.task(task_id), ["owner", "state"])
        matching = []
        for task_id, (task_owner, state) in zip(ids, pipe.execute(), strict=True):
            if state is None:
                continue
            if owner is not None and text(task_owner) != owner:
                continue
            if wanted is not None and state.decode() not in wanted:
                continue
            matching.append(task_id)
        return matching

    @reachable
    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        ids = self._matching_ids(owner, states)[offset : offset + limit]
        return self._load(ids) if ids else []

    @reachable
    def count(self, owner: str | None = None, states: Iterable[TaskState] | None = None) -> int:
        return len(self._matching_ids(owner, states))

    @reachable
    def queued_ids(self, owner: str | None = None) -> builtins.list[str]:
        """The queue's order: one owner's are those also in their active set."""
        queue = self._serving_ids()
        if owner is None:
            return queue
        active = {i.decode() for i in cast(set[bytes], self.redis.smembers(self.keys.active(owner)))}
        return [task_id for task_id in queue if task_id in active]

    def _serving_ids(self) -> builtins.list[str]:
        """Every queued task's id in the order the queue serves them: one script reads what the order needs."""
        if self.queue_policy == "fifo":
            return [i.decode() for i in cast(builtins.list[bytes], self.redis.zrange(self.keys.queued, 0, -1))]
        queue, turns = self._run("QUEUED_OWNERS", [self.keys.queued, self.keys.turns], [self.keys.task("")])
        return order.serving_ids(queue, turns)

    @reachable
    def move(self, task_id: str, to: MoveTo, run_next: bool = False) -> Task:
        order.move(self.redis, self.keys, task_id, to, run_next, self.queue_policy)
        return self.get(task_id)

    @reachable
    def claim_next(self, worker_id: str) -> Task | None:
        """In this order: a task handed to this worker (it holds the task's model), a task whose worker died
        (its lease ran out), the first queued one in the policy's order, or None. A queued task whose model another
        free worker holds and this one does not is handed to that worker instead."""
        if self.is_paused():
            return None
        for pending in self._pending(worker_id):  # handed over, or its own from a previous life
            if (task := self._take_over(worker_id, pending, overdue=False)) is not None:
                return task
        while True:
            overdue = cast(tuple[bytes, builtins.list[StreamEntry], builtins.list[bytes]], self.redis.xautoclaim(
                self.keys.queue, WORKERS_GROUP, worker_id, int(self.lease_s * 1000), "0-0", count=1
            ))[1]
            if not overdue:
                break
            entry_id, fields = overdue[0]
            entry = self._bound([QueueEntry.of(entry_id, fields)])[0] if fields else None
            if entry is not None and (task := self._take_over(worker_id, entry, overdue=True)) is not None:
                return task
        while entries := self._read_new(worker_id):
            entry = entries[0]
            if self._hand_over(worker_id, entry.id, entry.task_id):
                continue
            claimed = self._run(
                "CLAIM",
                [self.keys.queued, self.keys.queue, self.keys.turns],
                [entry.task_id, worker_id, repr(time.time()), entry.id, WORKERS_GROUP, entry.job_arg,
                 self.keys.task(""), self.queue_policy, NEVER_SERVED],
            )
            if isinstance(claimed, bytes):  # an entry of a whole task: the task the policy puts first
                return self.get(claimed.decode())
            if claimed:
                return self._claimed(entry, starts_task=claimed == 2)
        return None

    def _read_new(self, worker_id: str) -> builtins.list[QueueEntry]:
        """The next entry never delivered to any worker (delivered to this one now)."""
        reply = cast(builtins.list[tuple[bytes, builtins.list[StreamEntry]]],
                     self.redis.xreadgroup(WORKERS_GROUP, worker_id, {self.keys.queue: ">"}, count=1))
        return self._present(reply[0][1] if reply else [])

    def _pending(self, worker_id: str) -> builtins.list[QueueEntry]:
        """This worker's pending entries, read without delivering them again: a delivery would reset their idle time,
        and an entry this worker lost track of would never be overdue for a take-over."""
        pending = cast(builtins.list[dict[str, Any]], self.redis.xpending_range(
            self.keys.queue, WORKERS_GROUP, "-", "+", 100, consumername=worker_id))
        if not pending:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for entry in pending:
            pipe.xrange(self.keys.queue, entry["message_id"], entry["message_id"])
        found = [(entry["message_id"], (read[0][1] if read else {})) for entry, read in
                 zip(pending, pipe.execute(), strict=True)]
        return self._present(found)

    def _present(self, entries: builtins.list[StreamEntry]) -> builtins.list[QueueEntry]:
        """The entries that still exist; one deleted meanwhile (its task ended) is acknowledged and left out."""
        present = []
        for entry_id, fields in entries:
            if not fields:
                self.redis.xack(self.keys.queue, WORKERS_GROUP, entry_id)
                continue
            present.append(QueueEntry.of(entry_id, fields))
        return self._bound(present)

    def _bound(self, entries: builtins.list[QueueEntry]) -> builtins.list[QueueEntry]:
        """The entries with the task each runs now: a claim may have swapped a whole task's entry to another."""
        whole = [entry for entry in entries if entry.job is None]
        if not whole:
            return entries
        bound = dict(zip([e.id for e in whole],
                         cast(builtins.list[bytes | None], self.redis.hmget(self.keys.bound, [e.id for e in whole])),
                         strict=True))
        return [replace(entry, task_id=task.decode()) if (task := bound.get(entry.id)) else entry
                for entry in entries]

    def _claimed(self, entry: QueueEntry, starts_task: bool, failed: str | None = None) -> Task:
        """The claimed task; for a job's entry, with the job this worker runs (``Task.claim``)."""
        task = self.get(entry.task_id)
        if entry.job is not None:
            task.claim = JobClaim(job_no=entry.job, starts_task=starts_task, failed=failed)
        return task

    def _take_over(self, worker_id: str, entry: QueueEntry, overdue: bool) -> Task | None:
        """Claim a pending entry: a queued task is claimed as usual; a running one (its worker died) is run
        again, its events say so, or after ``max_attempts`` starts it fails with the reason. The script
        publishes both events: no service call waits on them. A job's entry likewise, except that a job whose
        workers kept dying is handed back to be ended failed (``JobClaim.failed``) by the worker that found it."""
        task_id = entry.task_id
        owner = text(cast(bytes | None, self.redis.hget(self.keys.task(task_id), "owner"))) or ""
        k, now = self.keys, repr(time.time())
        outcome = self._run(
            "TAKE_OVER",
            [k.task(task_id), k.events(task_id), k.queue, k.active(owner), k.queued, k.images(task_id), k.turns],
            [task_id, worker_id, now, entry.id, WORKERS_GROUP, self.max_attempts, now, k.event_channel,
             entry.job_arg, int(overdue), NEVER_SERVED],
        )
        if entry.job is None:
            return self.get(task_id) if outcome == 1 else None
        if outcome == 0:
            return None
        failed = text(cast(bytes | None, self.redis.hget(k.task(task_id), f"job:{entry.job}:error"))) if outcome == 3 \
            else None
        return self._claimed(entry, starts_task=outcome == 2, failed=failed)

    def _hand_over(self, worker_id: str, entry_id: bytes, task_id: str) -> bool:
        """Give the entry to a free worker that holds the task's model, when this one does not; True if given."""
        params = cast(bytes | None, self.redis.hget(self.keys.task(task_id), "params"))
        model = TaskParams.model_validate_json(params).model if params else None
        if model is None:  # the default model: whichever worker is free
            return False
        workers = {w.worker_id: w for w in self.workers()}
        me = workers.get(worker_id)
        if me is None or model in me.models:
            return False
        holders = [w for w in workers.values() if w.worker_id != worker_id and w.task_id is None and model in w.models]
        if not holders:
            return False
        self.redis.xclaim(self.keys.queue, WORKERS_GROUP, holders[0].worker_id, 0, [entry_id], justid=True)
        return True

    # --- written while running -------------------------------------------------------------
    @reachable
    def add_image(self, task_id: str, image: ImageRef) -> TaskEvent:
        now, data = repr(time.time()), image.model_dump_json()
        seq = self._run("ADD_IMAGE", [*self._task_and_events(task_id), self.keys.images(task_id)], [data, now])
        if seq is None:
            raise TaskNotFound(task_id)
        return self._event(task_id, seq, EventType.IMAGE, now, data)

    @reachable
    def add_preview(self, task_id: str, data: bytes, media_type: str) -> TaskEvent:
        now = repr(time.time())
        reply = self._run(
            "ADD_PREVIEW", [*self._task_and_events(task_id), self.keys.previews(task_id)],
            [data, media_type, now, PREVIEWS_KEPT],
        )
        if reply is None:
            raise TaskNotFound(task_id)
        seq, preview_id = reply
        return TaskEvent(task_id=task_id, seq=seq, type=EventType.PREVIEW, time=float(now),
                         data=PreviewPayload(id=preview_id, media_type=media_type))

    @reachable
    def finish(self, task_id: str, end: TaskEnd) -> tuple[Task, TaskEvent]:
        owner = self._owner(task_id)
        fields = ["state", end.state.value, "finished_at", repr(time.time()), "error", end.error or "",
                  "stop_reason", end.stop_reason or "", "sprite_sheet", end.sprite_sheet or ""]
        for name, value in (("progress", end.progress), ("stats", end.stats), ("resolved", end.resolved)):
            if value is not None:
                fields += [name, value.model_dump_json()]
        now, k, told = repr(time.time()), self.keys, EndPayload.of(end)
        reply = self._run(
            "FINISH",
            [k.task(task_id), k.events(task_id), k.queue, k.active(owner), k.queued, k.images(task_id),
             k.previews(task_id)],
            [task_id, WORKERS_GROUP, now, end.state.value, json.dumps(told.stored()), end.worker_id or "", *fields],
        )
        if reply is None:
            raise TaskNotFound(task_id)
        if reply[0] == b"taken":
            raise TaskTakenOver(task_id, reply[1].decode())
        if reply[0] == b"ended":
            raise TaskEnded(task_id, TaskState(reply[1].decode()))
        seq, images = reply
        event = TaskEvent(task_id=task_id, seq=seq, type=EventType(end.state.value), time=float(now),
                          data=EndPayload.of(end, images))
        return self.get(task_id), event

    @reachable
    def finish_job(self, task_id: str, end: TaskEnd) -> dict[int, TaskEnd | None] | None:
        if end.job_no is None:
            raise ValueError("finish_job needs the job's number (TaskEnd.job_no)")
        reply = self._run(
            "FINISH_JOB", [self.keys.task(task_id), self.keys.queue],
            [WORKERS_GROUP, end.job_no, end.worker_id or "", end.state.value, end.model_dump_json()],
        )
        if reply is None:
            raise TaskNotFound(task_id)
        if reply[0] == b"taken":
            raise TaskTakenOver(task_id, reply[1].decode())
        if reply[0] == b"more":
            return None
        return {job: TaskEnd.model_validate_json(raw) if raw else None for job, raw in enumerate(reply[1:])}

    @reachable
    def return_job(self, task_id: str, job_no: int, worker_id: str) -> bool:
        return bool(self._run("RETURN_JOB", [self.keys.task(task_id), self.keys.queue],
                              [WORKERS_GROUP, job_no, worker_id, task_id]))

    @reachable
    def append_job_progress(self, task_id: str, job_no: int, progress: TaskProgress) -> TaskEvent | None:
        reply = self._run("JOB_PROGRESS", [self.keys.task(task_id)], [job_no, progress.model_dump_json()])
        if reply is None:
            raise TaskNotFound(task_id)
        started_at, states = text(reply[0]), reply[1::2]
        running = {job: TaskProgress.model_validate_json(raw) for job, (state, raw) in enumerate(
            zip(states, reply[2::2], strict=True)) if state == b"running" and raw}
        done = sum(state in (b"completed", b"interrupted", b"failed") for state in states)
        elapsed = time.time() - float(started_at) if started_at else 0.0
        combined = combined_progress(running, done, len(states), elapsed)
        now, data = repr(time.time()), combined.model_dump_json()
        seq = self._run("SPLIT_PROGRESS", self._task_and_events(task_id), [now, data])
        return self._event(task_id, seq, EventType.PROGRESS, now, data) if seq else None

    def _owner(self, task_id: str) -> str:
        owner = cast(bytes | None, self.redis.hget(self.keys.task(task_id), "owner"))
        if owner is None:
            raise TaskNotFound(task_id)
        return owner.decode()

    # --- control ---------------------------------------------------------------------------
    @reachable
    def request_stop(self, task_id: str, request: StopRequest) -> tuple[Task, TaskEvent | None]:
        owner = self._owner(task_id)
        now, k = repr(time.time()), self.keys
        data = json.dumps(EndPayload.cancelled(request.reason).stored())
        reply = self._run(
            "REQUEST_STOP",
            [k.task(task_id), k.events(task_id), k.queue, k.active(owner), k.queued],
            [task_id, WORKERS_GROUP, request.model_dump_json(), request.action, now, now, data],
        )
        if reply is None:
            raise TaskNotFound(task_id)
        state, seq = reply[0].decode(), int(reply[1])
        event = self._event(task_id, seq, EventType.CANCELLED, now, data) if state == "cancelled" else None
        return self.get(task_id), event

    @reachable
    def cancel_queued(self, owner: str | None = None) -> builtins.list[TaskEvent]:
        now, k, data = repr(time.time()), self.keys, json.dumps(EndPayload.cancelled("user").stored())
        reply = self._run("CANCEL_QUEUED", [k.queued, k.queue],
                          [WORKERS_GROUP, owner or "", now, data, k.task(""), k.events(""), k.active("")])
        return [self._event(task_id.decode(), int(seq), EventType.CANCELLED, now, data)
                for task_id, seq in zip(reply[::2], reply[1::2], strict=True)]

    # --- events ----------------------------------------------------------------------------
    @reachable
    def append_event(
        self, task_id: str, type: EventType, data: EventData, progress: TaskProgress | None = None
    ) -> TaskEvent:
        now, payload = repr(time.time()), payload_of(type, data)
        seq = self._run(
            "APPEND_EVENT",
            self._task_and_events(task_id),
            [EventType(type).value, now, json.dumps(payload.stored()), progress.model_dump_json() if progress else "",
             progress.job_no if progress else 0],
        )
        if seq is None:
            raise TaskNotFound(task_id)
        if isinstance(seq, list):  # {'ended', state}
            raise TaskEnded(task_id, TaskState(seq[1].decode()))
        return TaskEvent(task_id=task_id, seq=seq, type=type, time=float(now), data=payload)

    @reachable
    def events_since(self, task_id: str, after_seq: int = 0) -> builtins.list[TaskEvent]:
        if not self.redis.exists(self.keys.task(task_id)):
            raise TaskNotFound(task_id)
        start = f"({after_seq}-0" if after_seq > 0 else "-"
        return [
            self._event(task_id, int(entry_id.split(b"-")[0]), f[b"type"].decode(), f[b"time"].decode(),
                        f[b"data"].decode())
            for entry_id, f in cast(builtins.list[StreamEntry],
                                    self.redis.xrange(self.keys.events(task_id), start, "+"))
        ]

    @reachable
    def get_preview(self, task_id: str, preview_id: int | None = None) -> tuple[int, bytes, str] | None:
        if preview_id is None:
            latest = cast(bytes | None, self.redis.hget(self.keys.task(task_id), "last_preview"))
            if not latest or int(latest) == 0:
                return None
            preview_id = int(latest)
        data, media_type = cast(builtins.list[bytes | None], self.redis.hmget(
            self.keys.previews(task_id), [str(preview_id), f"{preview_id}:type"]))
        return (preview_id, data, media_type.decode()) if data is not None and media_type is not None else None

    # --- housekeeping ----------------------------------------------------------------------
    @reachable
    def recover(self) -> builtins.list[TaskEvent]:
        """Tasks running on a worker with no heartbeat (gone for good, or never there) become interrupted.
        Distributed deployments leave this to the lease (``claim_next`` takes such tasks over); it is here
        for a single process on Redis, and for the contract every store keeps."""
        events = []
        for task_id in self._matching_ids(None, [TaskState.RUNNING]):
            worker = text(cast(bytes | None, self.redis.hget(self.keys.task(task_id), "worker_id")))
            if worker and self.redis.exists(self.keys.worker(worker)):
                continue
            now, k = repr(time.time()), self.keys
            reply = self._run(
                "RECOVER",
                [k.task(task_id), k.events(task_id), k.queue, k.active(self._owner(task_id)), k.queued],
                [task_id, WORKERS_GROUP, now, now, RECOVERED_ERROR],
            )
            if reply is not None:
                events.append(self._event(task_id, reply[0], EventType.INTERRUPTED, now, reply[1].decode()))
        return events

    @reachable
    def prune(self, keep: int, keep_total: int | None = None, keep_bytes: int | None = None) -> builtins.list[Task]:
        newest_created = self._matching_ids(None, TERMINAL_STATES)
        if not newest_created:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for task_id in newest_created:
            pipe.hmget(self.keys.task(task_id), ["finished_at", "owner", "inputs"])
        fields = dict(zip(newest_created, pipe.execute(), strict=True))
        # the most recently finished first (a stable sort: equal times keep the newest created first)
        finished = sorted(newest_created, key=lambda task_id: float(fields[task_id][0] or 0), reverse=True)
        held = [HeldTask(task_id, text(fields[task_id][1]) or "", _input_bytes(fields[task_id][2]))
                for task_id in finished]
        chosen = beyond_limits(held, keep, keep_total, keep_bytes)
        if not chosen:
            return []
        pruned = self._load(chosen)
        pipe = self.redis.pipeline(transaction=True)
        for task_id in chosen:
            k = self.keys
            pipe.delete(k.task(task_id), k.events(task_id), k.images(task_id), k.previews(task_id))
            pipe.zrem(k.all_tasks, task_id)
        pipe.execute()
        return pruned

    @reachable
    def set_paused(self, paused: bool) -> None:
        self.redis.set(self.keys.paused, "1" if paused else "0")

    @reachable
    def is_paused(self) -> bool:
        return self.redis.get(self.keys.paused) == b"1"

    @reachable
    def claim_notice(self, task_id: str) -> bool:
        # HSETNX on the task's own hash: atomic across servers, gone with the task when it is pruned. An unknown
        # task has no hash to set it in (EXISTS first; a task is never re-created under its id).
        key = self.keys.task(task_id)
        return bool(self.redis.exists(key)) and self.redis.hsetnx(key, "notice", "1") == 1

    def unanswered(self, timeout_s: float) -> str | None:
        """What is wrong when Redis does not answer a PING within ``timeout_s`` (no retries), else None."""
        if answers(self.redis, timeout_s):
            return None
        where = self.redis.connection_pool.connection_kwargs
        return (f"Redis at {where.get('host', '?')}:{where.get('port', '?')} does not answer within {timeout_s:g} s; "
                "no task can be queued, stopped or run")

    def close(self) -> None:
        self.redis.close()
