"""What only the SQLite store does: its files, its migrations, repairing what an older version left."""

import sqlite3
from pathlib import Path

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.model import EventType, Task, TaskParams, TaskState, new_task_id


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


def test_an_older_database_keeps_its_tasks_sheet_and_resolved_parameters(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite3"
    store = SQLiteTaskStore(path)
    task, _ = store.create(Task(id=new_task_id(), params=TaskParams()))
    store.close()
    old_info = ('{"model": "sprite", "sd_model_name": "sprite", "steps": 20, "cfg_scale": 3.0, "width": 32,'
                ' "height": 32, "seed": 1, "sampler_name": "Euler", "lora": null, "lora_scale": null,'
                ' "prompt_used": "x", "pixel": null, "sprite_sheet": "images/s.png"}')
    with sqlite3.connect(path) as raw:  # the schema before the sprite_sheet column
        raw.execute("ALTER TABLE tasks DROP COLUMN sprite_sheet")
        raw.execute("UPDATE tasks SET info = ? WHERE id = ?", (old_info, task.id))
    reopened = SQLiteTaskStore(path)
    try:
        migrated = reopened.get(task.id)
        assert migrated.sprite_sheet == "images/s.png"
        assert migrated.resolved is not None and migrated.resolved.steps == 20
    finally:
        reopened.close()
