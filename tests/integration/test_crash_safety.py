"""Crash safety: ``kill -9`` of ``pixelforge serve`` with tasks queued and one running. After a
restart every queued task runs, the running one is ``interrupted`` (reason ``restart``), every
finished image decodes and matches its record, every event stream ends with the task's state, no
crash leftover remains and ``PRAGMA integrity_check`` is ok.

The normal suite kills once, at a moment reached through the event stream (between the images of a
batch), and ends the process at each write boundary of a task's life in turn (create, claim,
started, image file, image record, finish, cancel: ``pixelforge.testing.crash``), restarting it after
each; ``-m soak`` kills at more event-chosen moments, and 20 times at random moments:
``PIXELFORGE_CRASH_KILLS=20 python -m pytest -m soak -s tests/integration/test_crash_safety.py``.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pixelforge.testing.crash import CRASH_EXIT
from pixelforge.testing.serve_process import ServeProcess, ServerExited

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "crash-test-admin-key"
CLIENT = {"Authorization": f"Bearer {ADMIN_KEY}"}  # an admin: it may pause the queue and list every task
TASK = {"prompt": "a knight", "steps": 12, "width": 32, "height": 32, "batch_count": 2}


@contextmanager
def serve(data_dir: Path, model: str, crash_at: str | None = None) -> Iterator[httpx.Client]:
    """``pixelforge serve`` in its own process; yields a client once it answers. Killed with -9 if the
    test did not kill it first. With ``crash_at`` the process ends by itself at that write boundary
    (``pixelforge.testing.crash``), which it may reach while it starts: the client then answers nothing."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIXELFORGE_PREVIEW_EVERY": "1", "PIXELFORGE_HISTORY_LIMIT": "1000",
           "PIXELFORGE_MAX_ACTIVE_PER_IDENTITY": "100", "HF_HUB_OFFLINE": "1", "PIXELFORGE_CRASH_AT": crash_at or ""}
    server = ServeProcess(data_dir, "--model", model, "--admin-key", f"crash={ADMIN_KEY}", env=env,
                          log=data_dir.parent / "serve.log",
                          module="pixelforge.testing.crash" if crash_at else "pixelforge.cli")
    client = httpx.Client(base_url=server.url, headers=CLIENT, timeout=60)
    client.process = server.process  # type: ignore[attr-defined]
    try:
        try:
            server.wait_healthy(timeout=300)
        except ServerExited as exited:
            if not (crash_at and exited.returncode == CRASH_EXIT):
                raise
            # the boundary came while it started (a leftover task ran)
        yield client
    finally:
        client.close()
        server.kill()


def _kill(client: httpx.Client) -> None:
    client.process.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    client.process.wait(30)  # type: ignore[attr-defined]


def _events(client: httpx.Client, task_id: str) -> Iterator[tuple[str, dict]]:
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", timeout=120) as response:
        assert response.status_code == 200
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield kind, json.loads(line.removeprefix("data: "))


def _until(client: httpx.Client, task_id: str, moment: Callable[[str, dict], bool]) -> None:
    for kind, event in _events(client, task_id):
        if moment(kind, event):
            return
    raise AssertionError(f"task {task_id} ended before the moment to kill")


def mid_denoise(client: httpx.Client, first: str) -> None:
    _until(client, first, lambda kind, e: kind == "progress" and e["data"]["step"] >= 3)


def between_images(client: httpx.Client, first: str) -> None:
    _until(client, first, lambda kind, e: kind == "image")


def at_random(seed: int) -> Callable[[httpx.Client, str], None]:
    def wait(client: httpx.Client, first: str) -> None:
        time.sleep(random.Random(seed).uniform(0.0, 3.0))  # a random moment is the point here

    return wait


def _check_everything(
    client: httpx.Client, data_dir: Path, submitted: list[str], kills: int, cancelled: int = 0
) -> dict[str, int]:
    states: dict[str, int] = {}
    for task_id in submitted:
        events = list(_events(client, task_id))  # every stream ends...
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        assert events[-1][0] == task["state"], (task_id, events[-1], task["state"])  # ...with the task's state
        seqs = [e["seq"] for _, e in events]  # stored events gapless; a live change of queue place repeats an id
        assert sorted(set(seqs)) == list(range(1, seqs[-1] + 1)) and seqs == sorted(seqs)
        assert all(kind == "queued" for (kind, e), before in zip(events[1:], seqs, strict=False) if e["seq"] == before)
        assert task["state"] in ("completed", "cancelled") or (
            task["state"] == "interrupted" and task["stop_reason"] == "restart"), task
        states[task["state"]] = states.get(task["state"], 0) + 1
        for image in task["images"]:
            png = client.get(image["url"])
            assert png.status_code == 200
            with Image.open(io.BytesIO(png.content)) as decoded:
                decoded.load()
                assert decoded.size == (image["width"], image["height"])
                assert f"Seed: {image['seed']}," in decoded.text["parameters"]
        if task["state"] == "completed":
            assert len(task["images"]) == TASK["batch_count"]
    assert states.get("interrupted", 0) <= kills  # at most the one running task per kill
    assert states.get("cancelled", 0) == cancelled
    assert not list(data_dir.rglob("*.tmp"))
    with sqlite3.connect(data_dir / "tasks.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        recorded = set()
        for images, sheet in db.execute("SELECT images, sprite_sheet FROM tasks"):
            for image in json.loads(images):
                recorded |= {image["path"], *image["files"].values()}
            recorded |= {sheet} if sheet else set()
    on_disk = {str(path.relative_to(data_dir)) for path in (data_dir / "images").rglob("*") if path.is_file()}
    assert on_disk <= recorded, on_disk - recorded  # nothing a crash wrote outlives the start-up sweep
    return states


def _run(tmp_path: Path, model: str, moments: list[Callable[[httpx.Client, str], None]]) -> dict[str, int]:
    data_dir = tmp_path / "data"
    submitted: list[str] = []
    for moment in moments:
        with serve(data_dir, model) as client:
            batch = [client.post("/api/v1/tasks", json=TASK).json()["id"] for _ in range(3)]
            submitted += batch
            moment(client, batch[0])
            _kill(client)
    with serve(data_dir, model) as client:
        return _check_everything(client, data_dir, submitted, len(moments))


def test_kill_9_between_the_images_of_a_running_task(tmp_path: Path, server_model: str) -> None:
    # One kill keeps the normal suite short (each start of `pixelforge serve` imports torch): the first
    # task has written one image and is denoising its second, two more are queued.
    states = _run(tmp_path, server_model, [between_images])
    assert states == {"interrupted": 1, "completed": 2}


def _submit(client: httpx.Client, count: int = 2) -> None:
    """Submit tasks until ``count`` are in or the process ends under a request (a boundary of its life)."""
    for _ in range(count):
        try:
            client.post("/api/v1/tasks", json=TASK)
        except httpx.TransportError:
            return


def _cancel_a_queued_task(client: httpx.Client) -> None:
    client.post("/api/v1/queue/pause")  # kept in the database: the next start stays paused until resumed
    queued = client.post("/api/v1/tasks", json=TASK).json()["id"]
    with pytest.raises(httpx.TransportError):  # the process ends right after the cancel is stored
        client.delete(f"/api/v1/tasks/{queued}")


# Boundaries of a task's life in turn, one process life each; what a start finds left over (a queued
# task, one left running) is part of the next life. "image:2" is the second image of a 2-image task.
# The normal suite takes the five that leave the most to repair (each process start imports torch);
# -m soak takes every one.
BOUNDARY_RUNS: dict[str, Callable[[httpx.Client], None]] = {
    "create:2": _submit,
    "claim:1": _submit,
    "started:1": _submit,
    "png:1": _submit,
    "image:1": _submit,
    "image:2": _submit,
    "finish:1": _submit,
    "cancel:1": _cancel_a_queued_task,
}
SUITE_BOUNDARIES = ["create:2", "claim:1", "png:1", "finish:1", "cancel:1"]


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    "boundaries", [SUITE_BOUNDARIES, pytest.param(list(BOUNDARY_RUNS), marks=pytest.mark.soak)], ids=["suite", "all"]
)
def test_the_process_ending_at_write_boundaries_of_a_task_s_life(
    tmp_path: Path, server_model: str, boundaries: list[str]
) -> None:
    data_dir = tmp_path / "data"
    for boundary in boundaries:
        drive = BOUNDARY_RUNS[boundary]
        with serve(data_dir, server_model, crash_at=boundary) as client:
            if client.process.poll() is None:  # type: ignore[attr-defined]
                drive(client)
            # No sleeping: the process ends by itself at the boundary (or the test fails with its log).
            assert client.process.wait(300) == CRASH_EXIT, boundary  # type: ignore[attr-defined]
    with serve(data_dir, server_model) as client:
        client.post("/api/v1/queue/resume").raise_for_status()  # paused by the cancel run
        tasks = client.get("/api/v1/tasks", params={"scope": "all", "limit": 200}).json()["tasks"]
        states = _check_everything(client, data_dir, [t["id"] for t in tasks], len(boundaries), cancelled=1)
    assert states["completed"] >= 1 and sum(states.values()) == len(tasks)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_kill_9_mid_denoise_and_between_images(tmp_path: Path, server_model: str) -> None:
    states = _run(tmp_path, server_model, [mid_denoise, between_images, mid_denoise])
    assert states["completed"] >= 6


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_kill_9_at_random_moments(tmp_path: Path, server_model: str) -> None:
    kills = int(os.environ.get("PIXELFORGE_CRASH_KILLS", "20"))
    started = time.monotonic()
    states = _run(tmp_path, server_model, [at_random(seed) for seed in range(kills)])
    print(f"\n{kills} kills, {3 * kills} tasks: {states}, {time.monotonic() - started:.0f} s")
