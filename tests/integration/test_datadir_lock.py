"""One process per data dir (issue 26, item 1a), with real processes.

``make run`` and the README's ``Pixelforge()`` both default to ``./data``: the Python API beside a running server
used to open the server's store and run restart recovery on it, publishing the server's running task as
``interrupted (restart)`` while it went on running. Now the server holds an exclusive lock on its data dir; the
Python API attaches to that server over HTTP instead, and a second ``pixelforge serve`` gets one line naming it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixelforge.datadir_lock import LOCK_NAME, DataDirInUse, DataDirLock
from pixelforge.testing.ports import free_port
from pixelforge.testing.serve_process import ServeProcess, start_serve

REPO = Path(__file__).resolve().parents[2]
SMALL = {"width": 32, "height": 32}


@pytest.fixture
def server(tmp_path: Path, server_model: str) -> Iterator[ServeProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PIXELFORGE_MODEL": server_model}
    process = start_serve(tmp_path / "data", env=env, log=tmp_path / "serve.log", timeout=300)
    yield process
    process.stop()


def test_the_lock_names_its_holder_and_is_free_once_released(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire("http://127.0.0.1:1234")
    with pytest.raises(DataDirInUse) as refused:
        DataDirLock(tmp_path).acquire()
    assert refused.value.holder is not None and refused.value.holder.pid == os.getpid()
    assert "http://127.0.0.1:1234" in str(refused.value)
    first.release()
    second = DataDirLock(tmp_path)
    second.acquire()  # free again: no stale lock once its holder let go
    second.release()


def test_a_second_serve_on_the_same_data_dir_is_refused_in_one_line(server: ServeProcess, tmp_path: Path) -> None:
    holder = json.loads((tmp_path / "data" / LOCK_NAME).read_text())
    assert holder == {"pid": server.process.pid, "url": server.url}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    second = subprocess.run([sys.executable, "-m", "pixelforge.cli", "serve", "--port", str(free_port()), "--data-dir",
                             str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"pid {server.process.pid}" in lines[0] and server.url in lines[0] and "--data-dir" in lines[0]
    assert httpx.get(f"{server.url}/api/v1/health").status_code == 200  # the first server never noticed


def test_the_python_api_beside_a_server_attaches_to_it_and_leaves_its_running_task_alone(
    server: ServeProcess, tmp_path: Path
) -> None:
    from pixelforge import Pixelforge, StopToken

    client = httpx.Client(base_url=server.url, headers={"X-Client-Id": "lock-test-1"}, timeout=60)
    running = client.post("/api/v1/tasks", json={"prompt": "a castle", "steps": 150, "batch_count": 16, **SMALL})
    assert running.status_code == 201, running.text
    task_url = f"/api/v1/tasks/{running.json()['id']}"
    with client.stream("GET", f"{task_url}/events") as stream:  # read up to the task's start: it is running now
        assert any(line == "event: started" for line in stream.iter_lines())

    with Pixelforge(data_dir=tmp_path / "data") as pf:
        assert pf.attached == server.url and pf.runtime is None
        assert client.get(task_url).json()["state"] == "running"  # no restart recovery ran on the server's store

        stop = StopToken()
        handle = pf.submit("a red apple", seed=3, steps=4, stop=stop, **SMALL)
        assert handle.task.state.value == "queued"  # behind the running task, on the server's one worker
        client.post(f"{task_url}/interrupt")
        images = pf.generate("a red heart", seed=5, steps=2, **SMALL)
        assert len(images) == 1 and images[0].open().size == (32, 32)
        assert images[0].ref.seed == 5
        stop.request_interrupt()  # a token stop goes to the server too
        assert handle.wait(120).state.value in ("interrupted", "cancelled", "completed")
        with pytest.raises(ValueError, match="another data_dir"):
            pf.submit("x", on_step=lambda info: None)

    events = client.get(f"{task_url}/events").text
    ends = [line for line in events.splitlines() if line.startswith("event: ") and line[7:] in
            ("completed", "interrupted", "failed", "cancelled")]
    assert ends == ["event: interrupted"] and '"reason":"restart"' not in events.replace(" ", "")


def test_the_attached_python_api_shows_a_stop_asked_for_and_when_a_queued_task_starts(
    server: ServeProcess, tmp_path: Path
) -> None:
    from pixelforge import Pixelforge
    from pixelforge.tasks.model import EventType, TaskState

    with Pixelforge(data_dir=tmp_path / "data") as pf:
        assert pf.attached == server.url
        running = pf.submit("a castle", seed=1, steps=150, batch_count=16, **SMALL)
        # running, with an ETA: the work ahead of the next task can be estimated
        next(event for event in running.events() if event.type is EventType.PROGRESS and event.data.get("eta_s"))
        queued = pf.submit("a red apple", seed=2, steps=4, **SMALL)
        waiting = queued.task
        assert waiting.state is TaskState.QUEUED and waiting.position == 1
        assert waiting.starts_in_s is not None and waiting.starts_in_s > 0
        running.stop_after_image()
        asked = running.task.stop_request
        assert asked is not None and (asked.action, asked.when) == ("interrupt", "after_job") and asked.at
        queued.interrupt()
        ended = running.wait(300)
    assert ended.state is TaskState.INTERRUPTED and len(ended.images) == 1 and ended.stop_request is None
