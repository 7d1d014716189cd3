"""SQLite TaskStore (WAL). One connection guarded by a lock: the store is shared by the server's
threads and the worker thread, and every operation is a few short statements."""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pixelforge.stores import sqlite_queue
from pixelforge.stores.sqlite_schema import SCHEMA_VERSION, opened_schema
from pixelforge.tasks.events import (
    EndPayload,
    EventData,
    ImagePayload,
    Payload,
    PreviewPayload,
    QueuedPayload,
    TaskEvent,
    payload_of,
)
from pixelforge.tasks.history import HeldTask, beyond_limits
from pixelforge.tasks.model import (
    TERMINAL_STATES,
    EventType,
    ImageRef,
    ResolvedParams,
    StopRequest,
    Task,
    TaskEnd,
    TaskInputs,
    TaskLimits,
    TaskOrigin,
    TaskParams,
    TaskProgress,
    TaskState,
    TaskStats,
)
from pixelforge.tasks.progress import queued_progress
from pixelforge.tasks.queue_order import MoveTo, QueuePolicy
from pixelforge.tasks.store import (
    RECOVERED_ERROR,
    QueueFull,
    StoreFull,
    StoreUnreadable,
    TaskEnded,
    TaskExists,
    TaskNotFound,
)

log = logging.getLogger(__name__)

# Previews kept per task: the newest few are enough for any client that is catching up.
PREVIEWS_KEPT = 3



# What a damaged record's column becomes when its task is quarantined: a value every reader takes (its task has
# failed). The columns that read as they are stay as they are (its images' paths above all: its files stay its own).
QUARANTINE_VALUES: dict[str, str | None] = {
    "params": TaskParams().model_dump_json(),
    "progress": TaskProgress().model_dump_json(),
    "images": "[]",
    "stats": None,
    "stop_request": None,
    "info": "{}",
    "inputs": None,
}


def _readable(read: Any, row: sqlite3.Row, column: str) -> bool:
    """Whether ``row`` reads with every column but ``column`` made readable (so ``column`` is not the damaged one)."""
    values = dict(row) | {c: r for c, r in QUARANTINE_VALUES.items() if c != column} | {"state": "failed"}
    try:
        read(values)
    except ValueError:
        return False
    return True


class SQLiteTaskStore:
    def __init__(self, path: Path | str, queue_policy: QueuePolicy = "fair") -> None:
        self.path = Path(path)
        self.queue_policy = queue_policy
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            version = opened_schema(self._conn)
        except sqlite3.DatabaseError as exc:  # not a database, damaged, read-only, a folder it cannot write in
            raise StoreUnreadable(str(self.path), f"{exc} (move it away to start with an empty history)") from exc
        if version != SCHEMA_VERSION:  # 0: written by a development build from before the stamp
            self._conn.close()
            raise StoreUnreadable(
                str(self.path), f"its schema is version {version}, this pixelforge reads version {SCHEMA_VERSION} "
                "only (move it away to start with an empty history)")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:  # a failed COMMIT may leave it open
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                    raise StoreFull() from exc
                raise

    # --- conversion ------------------------------------------------------------------------
    @staticmethod
    def _row_to_task(row: sqlite3.Row) -> Task:
        return Task(
            id=row["id"],
            type=row["type"],
            owner=row["owner"],
            params=TaskParams.model_validate_json(row["params"]),
            state=TaskState(row["state"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            progress=TaskProgress.model_validate_json(row["progress"]),
            images=[ImageRef.model_validate(i) for i in json.loads(row["images"])],
            stats=TaskStats.model_validate_json(row["stats"]) if row["stats"] else None,
            error=row["error"],
            stop_reason=row["stop_reason"],
            stop_request=StopRequest.model_validate_json(row["stop_request"]) if row["stop_request"] else None,
            resolved=ResolvedParams.model_validate_json(row["info"]) if row["info"] not in ("", "{}") else None,
            sprite_sheet=row["sprite_sheet"],
            inputs=TaskInputs.model_validate_json(row["inputs"]) if row["inputs"] else None,
            origin=TaskOrigin.model_validate_json(row["origin"]) if row["origin"] else TaskOrigin(),
        )

    # Queue places are computed when read (an index range count), never stored: a task that leaves the
    # queue changes no other row.
    @staticmethod
    def _place(task: Task, ahead: int, total: int) -> Task:
        task.position, task.queue_size = ahead + 1, total
        task.progress = queued_progress(ahead + 1, total)  # always live, never a stale "In queue"
        return task

    def _with_position(self, conn: sqlite3.Connection, task: Task) -> Task:
        return self._with_positions(conn, [task])[0]

    def _with_positions(self, conn: sqlite3.Connection, tasks: list[Task]) -> list[Task]:
        """``tasks`` with their places, the queue's order read once for all (not once per task)."""
        if any(t.state is TaskState.QUEUED for t in tasks):
            order = sqlite_queue.order(conn, self.queue_policy)
            ahead = {task_id: n for n, task_id in enumerate(order)}
            for task in tasks:
                if task.state is TaskState.QUEUED:
                    self._place(task, ahead[task.id], len(order))
        return tasks

    def _fetch(self, conn: sqlite3.Connection, task_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(task_id)
        return row

    # --- tasks -----------------------------------------------------------------------------
    def create(self, task: Task, limits: TaskLimits | None = None) -> tuple[Task, TaskEvent]:
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM tasks WHERE id = ?", (task.id,)).fetchone():
                raise TaskExists(task.id)
            if limits is not None:
                self._check_queue_limits(conn, task.owner, limits)
                self._check_input_bytes(conn, task, limits)
            cursor = conn.execute(
                "INSERT INTO tasks (id, type, owner, state, params, created_at, progress, inputs, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task.id,
                    task.type,
                    task.owner,
                    task.state,
                    task.params.model_dump_json(),
                    task.created_at,
                    task.progress.model_dump_json(),
                    task.inputs.model_dump_json() if task.inputs else None,
                    task.origin.model_dump_json(),
                ),
            )
            sqlite_queue.queued(conn, task.id, cursor.lastrowid or 0)
            task = self._with_position(conn, task)
            event = self._append(conn, task.id, EventType.QUEUED,
                                 QueuedPayload(position=task.position or 0, size=task.queue_size or 0))
            return task, event

    @staticmethod
    def _check_queue_limits(conn: sqlite3.Connection, owner: str, limits: TaskLimits) -> None:
        active = conn.execute(
            "SELECT COUNT(*) FROM tasks WHERE owner = ? AND state IN (?, ?)",
            (owner, TaskState.QUEUED, TaskState.RUNNING),
        ).fetchone()[0]
        if active >= limits.max_active_per_identity:
            raise QueueFull.owner_full(limits)
        queued = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = ?", (TaskState.QUEUED,)).fetchone()[0]
        if queued >= limits.max_queued_total:
            raise QueueFull.queue_full(limits)

    @staticmethod
    def _check_input_bytes(conn: sqlite3.Connection, task: Task, limits: TaskLimits) -> None:
        if task.inputs is None or task.inputs.bytes == 0:
            return
        held = conn.execute(
            "SELECT COALESCE(SUM(json_extract(inputs, '$.bytes')), 0) FROM tasks WHERE owner = ? AND state IN (?, ?)",
            (task.owner, TaskState.QUEUED, TaskState.RUNNING),
        ).fetchone()[0]
        if held + task.inputs.bytes > limits.max_input_bytes_per_identity:
            raise QueueFull.inputs_full(limits)

    def get(self, task_id: str) -> Task:
        with self._lock:
            return self._with_position(self._conn, self._row_to_task(self._fetch(self._conn, task_id)))

    @staticmethod
    def _filters(owner: str | None, states: Iterable[TaskState] | None) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if owner is not None:
            clauses.append("owner = ?")
            args.append(owner)
        if states is not None:
            state_list = [TaskState(s).value for s in states]
            clauses.append(f"state IN ({','.join('?' * len(state_list))})" if state_list else "0")
            args.extend(state_list)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list(
        self,
        owner: str | None = None,
        states: Iterable[TaskState] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Task]:
        where, args = self._filters(owner, states)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM tasks{where} ORDER BY queue_order DESC LIMIT ? OFFSET ?", [*args, limit, offset]
            ).fetchall()
            return self._with_positions(self._conn, [self._row_to_task(r) for r in rows])

    def count(self, owner: str | None = None, states: Iterable[TaskState] | None = None) -> int:
        where, args = self._filters(owner, states)
        with self._lock:
            count: int = self._conn.execute(f"SELECT COUNT(*) FROM tasks{where}", args).fetchone()[0]
            return count

    def queued_ids(self, owner: str | None = None) -> builtins.list[str]:
        with self._lock:
            order = sqlite_queue.order(self._conn, self.queue_policy)
            if owner is None:
                return order
            own = {r["id"] for r in self._conn.execute(
                "SELECT id FROM tasks WHERE owner = ? AND state = ?", (owner, TaskState.QUEUED))}
        return [task_id for task_id in order if task_id in own]

    def claim_next(self, worker_id: str) -> Task | None:
        with self._tx() as conn:
            if self._paused(conn):
                return None
            row = sqlite_queue.next_row(conn, self.queue_policy)
            if row is None:
                return None
            now = time.time()
            conn.execute(
                "UPDATE tasks SET state = ?, started_at = ?, worker_id = ? WHERE id = ?",
                (TaskState.RUNNING, now, worker_id, row["id"]),
            )
            sqlite_queue.served(conn, row["owner"])
            task = self._row_to_task(row)
            task.state, task.started_at = TaskState.RUNNING, now
            return task

    # --- written while running -------------------------------------------------------------
    def add_image(self, task_id: str, image: ImageRef) -> TaskEvent:
        with self._tx() as conn:
            images = json.loads(self._fetch(conn, task_id)["images"])
            images.append(image.model_dump())
            conn.execute("UPDATE tasks SET images = ? WHERE id = ?", (json.dumps(images), task_id))
            return self._append(conn, task_id, EventType.IMAGE, ImagePayload.of(image))

    def add_preview(self, task_id: str, data: bytes, media_type: str) -> TaskEvent:
        with self._tx() as conn:
            self._fetch(conn, task_id)
            latest = conn.execute("SELECT MAX(preview_id) FROM previews WHERE task_id = ?", (task_id,)).fetchone()[0]
            preview_id = (latest or 0) + 1
            conn.execute(
                "INSERT INTO previews (task_id, preview_id, media_type, data) VALUES (?, ?, ?, ?)",
                (task_id, preview_id, media_type, data),
            )
            self._drop_old_previews(conn, task_id, keep=PREVIEWS_KEPT)
            return self._append(conn, task_id, EventType.PREVIEW, PreviewPayload(id=preview_id, media_type=media_type))

    def finish(self, task_id: str, end: TaskEnd) -> tuple[Task, TaskEvent]:
        with self._tx() as conn:
            self._refuse_ended(self._fetch(conn, task_id))
            conn.execute(
                "UPDATE tasks SET state = ?, finished_at = ?, progress = COALESCE(?, progress),"
                " stats = COALESCE(?, stats), error = ?, stop_reason = ?, stop_request = NULL,"
                " info = COALESCE(?, info), sprite_sheet = ? WHERE id = ?",
                (
                    end.state,
                    time.time(),
                    end.progress.model_dump_json() if end.progress else None,
                    end.stats.model_dump_json() if end.stats else None,
                    end.error,
                    end.stop_reason,
                    end.resolved.model_dump_json() if end.resolved else None,
                    end.sprite_sheet,
                    task_id,
                ),
            )
            self._drop_old_previews(conn, task_id, keep=1)
            task = self._row_to_task(self._fetch(conn, task_id))
            return task, self._append(conn, task_id, EventType(end.state.value), EndPayload.of(end, len(task.images)))

    # --- control ---------------------------------------------------------------------------
    def request_stop(self, task_id: str, request: StopRequest) -> tuple[Task, TaskEvent | None]:
        with self._tx() as conn:
            row = self._fetch(conn, task_id)
            state = TaskState(row["state"])
            event = None
            if state is TaskState.QUEUED and request.action == "interrupt":
                conn.execute(
                    "UPDATE tasks SET state = ?, finished_at = ?, stop_reason = ? WHERE id = ?",
                    (TaskState.CANCELLED, time.time(), "cancelled", task_id),
                )
                event = self._append(conn, task_id, EventType.CANCELLED, EndPayload.cancelled(request.reason))
            elif state is TaskState.RUNNING:
                existing = StopRequest.model_validate_json(row["stop_request"]) if row["stop_request"] else None
                # A stop is never downgraded by a later click (an interrupt to a skip or to "after the job").
                if not request.yields_to(existing):
                    conn.execute(
                        "UPDATE tasks SET stop_request = ? WHERE id = ?", (request.model_dump_json(), task_id)
                    )
            return self._with_position(conn, self._row_to_task(self._fetch(conn, task_id))), event

    def move(self, task_id: str, to: MoveTo, run_next: bool = False) -> Task:
        with self._tx() as conn:
            sqlite_queue.move(conn, self._fetch(conn, task_id), to, run_next, self.queue_policy)
            return self._with_position(conn, self._row_to_task(self._fetch(conn, task_id)))

    def cancel_queued(self, owner: str | None = None) -> builtins.list[TaskEvent]:
        where, args = self._filters(owner, [TaskState.QUEUED])
        with self._tx() as conn:
            ids = [r["id"] for r in conn.execute(f"SELECT id FROM tasks{where} ORDER BY queue_rank", args)]
            conn.execute(f"UPDATE tasks SET state = ?, finished_at = ?, stop_reason = ?{where}",
                         [TaskState.CANCELLED, time.time(), "cancelled", *args])
            return [self._append(conn, task_id, EventType.CANCELLED, EndPayload.cancelled("user")) for task_id in ids]

    # --- events ----------------------------------------------------------------------------
    def append_event(
        self, task_id: str, type: EventType, data: EventData, progress: TaskProgress | None = None
    ) -> TaskEvent:
        with self._tx() as conn:
            self._refuse_ended(self._fetch(conn, task_id))
            return self._append(conn, task_id, type, payload_of(type, data), progress)

    @staticmethod
    def _refuse_ended(row: sqlite3.Row) -> None:
        if (state := TaskState(row["state"])).is_terminal:
            raise TaskEnded(row["id"], state)

    def _append(
        self,
        conn: sqlite3.Connection,
        task_id: str,
        type: EventType,
        data: Payload,
        progress: TaskProgress | None = None,
    ) -> TaskEvent:
        row = self._fetch(conn, task_id)
        seq = row["last_seq"] + 1
        event = TaskEvent(task_id=task_id, seq=seq, type=type, data=data)
        if progress is None:
            conn.execute("UPDATE tasks SET last_seq = ? WHERE id = ?", (seq, task_id))
        else:
            stop_request = row["stop_request"]
            if stop_request and StopRequest.model_validate_json(stop_request).expires_between(
                TaskProgress.model_validate_json(row["progress"]).job_no, progress.job_no
            ):
                stop_request = None
            conn.execute(
                "UPDATE tasks SET last_seq = ?, progress = ?, stop_request = ? WHERE id = ?",
                (seq, progress.model_dump_json(), stop_request, task_id),
            )
        conn.execute(
            "INSERT INTO events (task_id, seq, type, time, data) VALUES (?, ?, ?, ?, ?)",
            (task_id, seq, event.type, event.time, json.dumps(data.stored())),
        )
        return event

    def events_since(self, task_id: str, after_seq: int = 0) -> builtins.list[TaskEvent]:
        with self._lock:
            self._fetch(self._conn, task_id)
            rows = self._conn.execute(
                "SELECT * FROM events WHERE task_id = ? AND seq > ? ORDER BY seq", (task_id, after_seq)
            ).fetchall()
        return [
            TaskEvent(task_id=r["task_id"], seq=r["seq"], type=r["type"], time=r["time"], data=json.loads(r["data"]))
            for r in rows
        ]

    # --- previews --------------------------------------------------------------------------
    def get_preview(self, task_id: str, preview_id: int | None = None) -> tuple[int, bytes, str] | None:
        with self._lock:
            if preview_id is None:
                row = self._conn.execute(
                    "SELECT * FROM previews WHERE task_id = ? ORDER BY preview_id DESC LIMIT 1", (task_id,)
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT * FROM previews WHERE task_id = ? AND preview_id = ?", (task_id, preview_id)
                ).fetchone()
        return (row["preview_id"], bytes(row["data"]), row["media_type"]) if row else None

    @staticmethod
    def _drop_old_previews(conn: sqlite3.Connection, task_id: str, keep: int) -> None:
        conn.execute(
            "DELETE FROM previews WHERE task_id = ? AND preview_id NOT IN"
            " (SELECT preview_id FROM previews WHERE task_id = ? ORDER BY preview_id DESC LIMIT ?)",
            (task_id, task_id, keep),
        )

    # --- housekeeping ----------------------------------------------------------------------
    def recover(self) -> builtins.list[TaskEvent]:
        with self._tx() as conn:
            self._quarantine(conn)
            conn.execute(
                "UPDATE tasks SET state = ?, finished_at = ?, stop_reason = ?, stop_request = NULL, error = ?"
                " WHERE state = ?",
                (TaskState.INTERRUPTED, time.time(), "restart", RECOVERED_ERROR, TaskState.RUNNING),
            )
            # Every finished task without a terminal event: the tasks just interrupted, and any whose terminal
            # write was cut short by a crash of an older version. One that has its terminal event never gets a
            # second, whatever came after it.
            finished = [s.value for s in TERMINAL_STATES]
            marks = ",".join("?" * len(finished))
            rows = conn.execute(
                f"SELECT t.id, t.state, t.stop_reason, t.error FROM tasks t WHERE t.state IN ({marks}) AND NOT EXISTS"
                f" (SELECT 1 FROM events e WHERE e.task_id = t.id AND e.type IN ({marks}))",
                [*finished, *finished],
            ).fetchall()
            events = []
            for row in rows:
                told = {"reason": row["stop_reason"]} if row["stop_reason"] else {}
                if row["error"]:
                    told["error"] = row["error"]
                events.append(self._append(conn, row["id"], EventType(row["state"]),
                                           EndPayload(type=EventType(row["state"]), **told)))
        return events

    def _quarantine(self, conn: sqlite3.Connection) -> None:
        """Make every task whose record cannot be read (``params`` that is not JSON, a state no version knows ...)
        readable again, with the reason as its error, and log it: one damaged row never keeps the store from opening
        or listing. A task that had not ended fails (its terminal event follows with recovery's); one that had ended
        keeps its end, as its stream told it (a terminal state is final)."""
        for row in conn.execute("SELECT * FROM tasks").fetchall():
            try:
                self._row_to_task(row)
                continue
            except ValueError as exc:  # pydantic's ValidationError and json's errors are ValueErrors
                error = exc
            damaged = {column: readable for column, readable in QUARANTINE_VALUES.items()
                       if not _readable(self._row_to_task, row, column)}
            bad = [*damaged] if row["state"] in set(TaskState) else [f"state {row['state']!r}", *damaged]
            reason = f"its stored record could not be read (bad {', '.join(bad)}); quarantined"
            log.warning("task %s: %s: %s", row["id"], reason, error)
            told = [e.value for e in EventType if e.is_terminal]
            ended = conn.execute(
                f"SELECT type FROM events WHERE task_id = ? AND type IN ({','.join('?' * len(told))})"
                " ORDER BY seq LIMIT 1", (row["id"], *told)).fetchone()
            state = ended["type"] if ended else TaskState.FAILED
            assignments = "".join(f"{column} = ?, " for column in damaged)
            conn.execute(
                f"UPDATE tasks SET {assignments}state = ?, error = ?, stop_request = NULL,"
                " finished_at = COALESCE(finished_at, ?) WHERE id = ?",
                [*damaged.values(), state, reason, time.time(), row["id"]],
            )

    def prune(self, keep: int, keep_total: int | None = None, keep_bytes: int | None = None) -> builtins.list[Task]:
        finished = [s.value for s in TERMINAL_STATES]
        marks = ",".join("?" * len(finished))
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, owner, COALESCE(json_extract(inputs, '$.bytes'), 0) AS bytes FROM tasks"
                f" WHERE state IN ({marks}) ORDER BY finished_at DESC, queue_order DESC",
                finished,
            ).fetchall()
            pruned = []
            held = [HeldTask(r["id"], r["owner"], r["bytes"]) for r in rows]
            for task_id in beyond_limits(held, keep, keep_total, keep_bytes):
                pruned.append(self._row_to_task(self._fetch(conn, task_id)))
                conn.execute("DELETE FROM events WHERE task_id = ?", (task_id,))
                conn.execute("DELETE FROM previews WHERE task_id = ?", (task_id,))
                conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
        return pruned

    @staticmethod
    def _paused(conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT value FROM meta WHERE key = 'paused'").fetchone()
        return bool(row and row["value"] == "1")

    def set_paused(self, paused: bool) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('paused', ?)", ("1" if paused else "0",))

    def is_paused(self) -> bool:
        with self._lock:
            return self._paused(self._conn)

    def claim_notice(self, task_id: str) -> bool:
        with self._tx() as conn:
            claimed = conn.execute("UPDATE tasks SET notice_claimed = 1 WHERE id = ? AND notice_claimed = 0",
                                   (task_id,))
            return claimed.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()
