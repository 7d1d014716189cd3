"""The SQLite store's tables, and the version stamped in a database (``PRAGMA user_version``).

No pixelforge was released before the stamp, so there is no older layout to upgrade from: a database of any other
version is refused by the store, never migrated.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    queue_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress TEXT NOT NULL,
    images TEXT NOT NULL DEFAULT '[]',
    stats TEXT,
    error TEXT,
    stop_reason TEXT,
    stop_request TEXT,
    info TEXT NOT NULL DEFAULT '{}',
    worker_id TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    sprite_sheet TEXT,
    inputs TEXT,
    origin TEXT,
    queue_rank REAL,
    notice_claimed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state, queue_order);
CREATE INDEX IF NOT EXISTS tasks_owner ON tasks(owner, queue_order);
CREATE INDEX IF NOT EXISTS tasks_rank ON tasks(state, queue_rank);
CREATE TABLE IF NOT EXISTS turns (owner TEXT PRIMARY KEY, turn REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_turn ON turns(turn);
CREATE TABLE IF NOT EXISTS events (
    task_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    time REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
CREATE TABLE IF NOT EXISTS previews (
    task_id TEXT NOT NULL,
    preview_id INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (task_id, preview_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# The layout SCHEMA writes.
SCHEMA_VERSION = 1


def opened_schema(conn: sqlite3.Connection) -> int:
    """The database's schema version, after writing SCHEMA into a new (empty) one and stamping it."""
    if not conn.execute("SELECT 1 FROM sqlite_master").fetchone():
        # BEGIN IMMEDIATE: two processes opening one new file write it once, the second reads the stamp.
        conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version
