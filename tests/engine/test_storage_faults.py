"""The disk fails under a worker (issue 25.4a, 25.6): a task is never left running, the worker that cannot store an
end takes no task until it can and the health route says why, and a worker whose tasks all fail on storage makes
the server unhealthy; no server path reaches a client.

A real disk: the data directory (or its images folder) on a small tmpfs of its own, filled to the last byte or made
read-only. Mounting needs root: each test re-runs itself in a user namespace (``as_namespace_root``) otherwise.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pixelforge.config import Settings
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.testing.disk import fill
from pixelforge.testing.hooks import Hold, denoiser
from pixelforge.testing.live_server import LiveServer, start_server
from tests.engine.test_faults import as_namespace_root

SMALL = {"prompt": "x", "steps": 3, "width": 32, "height": 32}


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    assert mounted.returncode == 0, f"root could not mount a tmpfs: {mounted.stderr}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def _until(holds: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for a state the worker reaches on its own thread (no event tells it), up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while not holds():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


@contextmanager
def server(data_dir: Path, tiny_qwen_dir: Path) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=data_dir, model=str(tiny_qwen_dir), preview_every=0))
    try:
        yield live
    finally:
        live.stop()
        live.runtime.stop()


def _health(live: LiveServer) -> httpx.Response:
    return httpx.get(f"{live.url}/api/v1/health", timeout=30)


def test_a_full_disk_at_a_task_s_end_never_leaves_it_running(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_qwen_dir: Path
) -> None:
    if os.geteuid() != 0:
        as_namespace_root(request)
        return
    with tmpfs(tmp_path / "data", "8m") as data_dir, server(data_dir, tiny_qwen_dir) as live:
        service = live.runtime.service
        release = threading.Event()
        hold = Hold(denoiser(live.runtime), when=lambda: True, until=release.wait)
        try:
            task = service.submit(TaskParams(**SMALL))
            assert hold.reached.wait(120)
            filler = fill(data_dir)  # the database and the images: neither the end nor the failure can be stored
        finally:
            release.set()
            hold.remove()
        _until(lambda: live.runtime.worker_health()[0].problem is not None, "the worker says it cannot store")
        health = _health(live)
        assert health.status_code == 503
        problem = health.json()["workers"][0]["problem"]
        assert f"cannot store the end of task {task.id}" in problem and "takes no task" in problem
        assert service.get(task.id).state is TaskState.RUNNING  # not ended yet, and not forgotten
        filler.unlink()  # space again: the end is stored, and the worker goes on
        ended = service.wait(task.id, timeout=120)
        assert ended.state is TaskState.FAILED and ended.error
        assert [e.type for e in service.store.events_since(task.id)].count(ended.state.value) == 1
        after = service.submit(TaskParams(**SMALL))
        assert service.wait(after.id, timeout=120).state is TaskState.COMPLETED
        assert _health(live).status_code == 200


def test_a_read_only_images_folder_makes_the_server_unhealthy_and_shows_no_server_path(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_qwen_dir: Path
) -> None:
    if os.geteuid() != 0:
        as_namespace_root(request)
        return
    data_dir = tmp_path / "data"
    with tmpfs(data_dir / "images", "8m") as images, server(data_dir, tiny_qwen_dir) as live:
        service = live.runtime.service
        _remount(images, "ro")
        failed = [service.wait(service.submit(TaskParams(**SMALL)).id, timeout=120) for _ in range(2)]
        for task in failed:
            assert task.state is TaskState.FAILED and "Read-only file system" in (task.error or ""), task.error
            told = [task.error, task.progress.textinfo, *(str(e.data) for e in service.store.events_since(task.id))]
            assert not any(str(tmp_path) in (text or "") for text in told), told  # no server path for clients
        health = _health(live)
        assert health.status_code == 503
        assert "failed on storage" in health.json()["workers"][0]["problem"]
        _remount(images, "rw")
        after = service.submit(TaskParams(**SMALL))
        assert service.wait(after.id, timeout=120).state is TaskState.COMPLETED
        assert _health(live).status_code == 200
