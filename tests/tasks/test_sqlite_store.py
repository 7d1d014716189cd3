"""What only the SQLite store does: its files, its schema version, repairing what a crash left."""

import sqlite3
from pathlib import Path

import pytest

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.stores.sqlite_schema import SCHEMA_VERSION
from pixelforge.tasks.model import EventType, Task, TaskParams, TaskState, new_task_id
from pixelforge.tasks.store import StoreUnreadable


def test_ids_are_a1111_shaped_and_unguessable() -> None:
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("task(txt2img-") and i.endswith(")") and len(i) == len("task(txt2img-)") + 16 for i in ids)


def test_recovery_repairs_a_finished_task_whose_terminal_event_is_missing(tmp_path: Path) -> None:
    """What a crash between the two writes of an older version left: a completed task whose stream never ends."""
    path = tmp_path / "tasks.sqlite3"
    store = SQLiteTaskStore(path)
    task, _ = store.create(Task(id=new_task_id(), params=TaskParams()))
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE tasks SET state = ? WHERE id = ?", (TaskState.COMPLETED, task.id))
    reopened = SQLiteTaskStore(path)
    try:
        events = reopened.recover()
        assert [(e.task_id, e.type) for e in events] == [(task.id, EventType.COMPLETED)]
        assert reopened.events_since(task.id)[-1].type is EventType.COMPLETED
    finally:
        reopened.close()


# 0: the tables of a development build from before the stamp; 2: a newer pixelforge's.
@pytest.mark.parametrize("version", [0, 2])
def test_a_database_of_another_schema_version_is_refused_and_left_as_it_is(tmp_path: Path, version: int) -> None:
    """Nothing was released before the schema was stamped: there is no older layout to migrate, and a database of any
    other version is refused with the reason, never rewritten."""
    path = tmp_path / "tasks.sqlite3"
    store = SQLiteTaskStore(path)
    task, _ = store.create(Task(id=new_task_id(), params=TaskParams(prompt="kept")))
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {version}")
    before = path.read_bytes()
    with pytest.raises(StoreUnreadable, match=rf"schema is version {version}, this pixelforge reads version 1 only"):
        SQLiteTaskStore(path)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT params FROM tasks WHERE id = ?", (task.id,)).fetchone()[0].count("kept") == 1


def test_a_new_database_is_stamped_with_the_schema_version_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite3"
    SQLiteTaskStore(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    SQLiteTaskStore(path).close()
