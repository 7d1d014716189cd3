"""A damaged task database at start (issue 25.11): a record that cannot be read is quarantined (its task failed
with the reason, logged) and the server starts; a database that cannot be opened at all is one clear line."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from pixelforge.cli import main
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.testing.serve_process import start_serve

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "damaged-store-admin-key"
SMALL = {"width": 32, "height": 32, "steps": 1}


def test_damaged_records_are_quarantined_and_the_server_starts(make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime()
    tasks = [runtime.service.submit(TaskParams(prompt=f"p{n}", **SMALL)) for n in range(3)]
    for task in tasks:
        assert runtime.service.wait(task.id, timeout=120).state is TaskState.COMPLETED
    images = [runtime.settings.data_dir / ref.path for ref in runtime.store.get(tasks[1].id).images]
    runtime.service.store.set_paused(True)
    queued = runtime.service.submit(TaskParams(prompt="waits", **SMALL))
    runtime.stop()
    with sqlite3.connect(runtime.settings.db_path) as raw:
        raw.execute("UPDATE tasks SET params = 'not json' WHERE id IN (?, ?)", (tasks[0].id, queued.id))
        raw.execute("UPDATE meta SET value = '0' WHERE key = 'paused'")
        raw.execute("UPDATE tasks SET state = 'exploded' WHERE id = ?", (tasks[1].id,))

    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    server = start_serve(runtime.settings.data_dir, "--model", str(runtime.settings.model), "--admin-key",
                         f"admin={ADMIN_KEY}", env=env, log=log)
    try:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        assert client.get("/api/v1/health").status_code == 200
        # a task that had ended keeps its end, as its stream told it; one that had not fails, its stream ends
        for damaged, says, state in ((tasks[0], "params", "completed"), (tasks[1], "exploded", "completed"),
                                     (queued, "params", "failed")):
            view = client.get(f"/api/v1/tasks/{damaged.id}").json()
            assert view["state"] == state and "could not be read" in view["error"] and says in view["error"]
            events = client.get(f"/api/v1/tasks/{damaged.id}/events", headers={"Accept": "text/event-stream"}).text
            assert events.count(f"event: {state}") == 1 and events.count("event: ") == events.count("id: ")
        assert client.get(f"/api/v1/tasks/{tasks[2].id}").json()["state"] == "completed"
        assert client.get(f"/api/v1/tasks/{tasks[1].id}").json()["images"]  # readable parts stay as they were
    finally:
        server.stop()
    assert images and all(p.is_file() for p in images)  # the quarantined task's files are still its own
    said = log.read_text()
    assert f"task {tasks[0].id}: its stored record could not be read (bad params)" in said
    assert "Traceback" not in said


def test_a_database_that_is_not_one_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "tasks.sqlite3").write_bytes(b"this is not a database, it only has the name of one" * 100)
    assert main(["serve", "--data-dir", str(data_dir), "--port", "1"]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "cannot open the task store" in message and "not a database" in message
