"""`generate --timeout` bounds the whole command, time in the queue included, and a task that waits with no live
worker says so (issue 26, item 3), against a real server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import cli_env

from pixelforge.config import Settings
from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer, start_server

WAITING = "pixelforge: waiting for a worker…"


@pytest.fixture
def paused(server_model: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose queue is paused: every task stays queued, its worker alive."""
    live = start_server(Settings(data_dir=tmp_path / "data", model=server_model))
    live.runtime.service.store.set_paused(True)
    yield live
    live.stop()


def _generate(server: LiveServer, cwd: Path, timeout: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pixelforge.cli", "generate", "x", "--steps", "2", "--timeout",
                             timeout, "--out", "o", "--server", server.url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=cwd)


def _queued_task(server: LiveServer, limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        tasks = server.runtime.service.list(states=[TaskState.QUEUED], limit=1)
        if tasks:
            return tasks[0].id
        time.sleep(0.05)
    raise AssertionError("the CLI's task never reached the queue")


def test_the_timeout_counts_time_in_the_queue_and_cancels_the_task(paused: LiveServer, tmp_path: Path) -> None:
    process = _generate(paused, tmp_path, "3")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert stderr.strip().splitlines()[-1] == "pixelforge: --timeout 3 s passed: cancelled; kept 0 images"
    assert WAITING not in stderr  # its worker is alive: the queue is paused, not unserved
    task = paused.runtime.service.list(limit=1)[0]
    assert task.state is TaskState.CANCELLED


def test_a_task_queued_with_no_live_worker_says_it_waits_for_one(paused: LiveServer, tmp_path: Path) -> None:
    process = _generate(paused, tmp_path, "20")
    _queued_task(paused)
    paused.runtime.workers[0].stop()  # the only worker ends after the CLI found the server healthy
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first.startswith(WAITING), first
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 1
    assert rest.strip().endswith("--timeout 20 s passed: cancelled; kept 0 images")
