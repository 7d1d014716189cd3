"""The SQLite store's queue order: each queued task's rank (``tasks.queue_rank``) and each identity's turn (the
``turns`` table), kept as ``pixelforge/tasks/queue_order.py`` states them, and read in its order.

Functions of an open transaction's connection, called by ``SQLiteTaskStore`` inside its own transactions.
"""

from __future__ import annotations

import sqlite3

from pixelforge.tasks.model import TaskState
from pixelforge.tasks.queue_order import NEVER_SERVED, MoveTo, Queued, QueuePolicy, reranked, serving_order
from pixelforge.tasks.store import TaskNotQueued

QUEUED = TaskState.QUEUED.value


def queued(conn: sqlite3.Connection, task_id: str, queue_order: int) -> None:
    """A task just inserted joins the queue last: its rank is its insertion order, after every rank given so far."""
    conn.execute("UPDATE tasks SET queue_rank = ? WHERE id = ?", (queue_order, task_id))


def order(conn: sqlite3.Connection, policy: QueuePolicy) -> list[str]:
    """Every queued task's id in the order the queue serves them."""
    rows = conn.execute("SELECT id, owner FROM tasks WHERE state = ? ORDER BY queue_rank", (QUEUED,)).fetchall()
    turns = {r["owner"]: r["turn"] for r in conn.execute("SELECT owner, turn FROM turns")}
    return serving_order([Queued(r["id"], r["owner"]) for r in rows], turns, policy)


def next_row(conn: sqlite3.Connection, policy: QueuePolicy) -> sqlite3.Row | None:
    """The task ``serving_order`` puts first, in one query."""
    row: sqlite3.Row | None
    if policy == "fifo":
        row = conn.execute("SELECT * FROM tasks WHERE state = ? ORDER BY queue_rank LIMIT 1", (QUEUED,)).fetchone()
    else:
        row = conn.execute(
            "SELECT tasks.* FROM tasks LEFT JOIN turns ON turns.owner = tasks.owner WHERE tasks.state = ?"
            " ORDER BY COALESCE(turns.turn, ?), tasks.queue_rank LIMIT 1", (QUEUED, NEVER_SERVED)).fetchone()
    return row


def served(conn: sqlite3.Connection, owner: str) -> None:
    """``owner``'s task left the queue to run: it goes to the back of the turns (kept under either policy, so that
    a change of policy finds them right)."""
    conn.execute("INSERT OR REPLACE INTO turns (owner, turn) VALUES (?, MAX(COALESCE((SELECT MAX(turn) FROM turns),"
                 " ?), ?) + 1)", (owner, NEVER_SERVED, NEVER_SERVED))


def move(conn: sqlite3.Connection, row: sqlite3.Row, to: MoveTo, run_next: bool, policy: QueuePolicy) -> None:
    if row["state"] != QUEUED:
        raise TaskNotQueued(row["id"], TaskState(row["state"]))
    if run_next:
        conn.execute("UPDATE tasks SET queue_rank = (SELECT MIN(queue_rank) FROM tasks WHERE state = ?) - 1"
                     " WHERE id = ?", (QUEUED, row["id"]))
        conn.execute("INSERT OR REPLACE INTO turns (owner, turn) VALUES (?, MIN(COALESCE((SELECT MIN(turn) FROM"
                     " turns), ?), ?) - 1)", (row["owner"], NEVER_SERVED, NEVER_SERVED))
        return
    own = conn.execute("SELECT id, queue_rank FROM tasks WHERE owner = ? AND state = ? ORDER BY queue_rank",
                       (row["owner"], QUEUED)).fetchall()
    first, last = own[0]["queue_rank"], own[-1]["queue_rank"]
    before = conn.execute("SELECT MAX(queue_rank) FROM tasks WHERE state = ? AND queue_rank < ?",
                          (QUEUED, first)).fetchone()[0]
    after = conn.execute("SELECT MIN(queue_rank) FROM tasks WHERE state = ? AND queue_rank > ?",
                         (QUEUED, last)).fetchone()[0]
    for task_id, rank in reranked([(r["id"], r["queue_rank"]) for r in own], row["id"], to, policy, before, after):
        conn.execute("UPDATE tasks SET queue_rank = ? WHERE id = ?", (rank, task_id))
