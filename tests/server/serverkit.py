"""Helpers of the server tests. Real servers: pixelforge's Runtime (store, bus, engine worker) with the
bundled sprite model when its weights are installed, else the tiny Qwen-Image pipeline, behind a real
uvicorn on a free loopback port, driven with httpx.

Two session-wide servers: ``keyed`` (API keys alice / bob, admin key root) and ``open`` (no keys:
client-id identities, CORS enabled for one origin). Tests that need tasks to stay queued pause the
queue through the admin API and resume it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold, denoiser, until_stopped
from pixelforge.testing.live_server import LiveServer

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789"}
ADMIN_KEYS = {"root": "root-key-0123456789"}
CORS_ORIGIN = "http://ui.example"
# Per-identity and server-wide queue limits of the keyed server (small, so tests can reach them).
MAX_ACTIVE = 3
MAX_QUEUED = 5
# Small and quick on two CPU cores: the tiny pipeline runs a step in a few tens of milliseconds.
QUICK = {"prompt": "a knight with a sword", "steps": 3, "width": 32, "height": 32}
# Long enough to stop it while it runs (a few seconds), still tiny.
LONG = {"prompt": "a slow dragon", "steps": 150, "width": 32, "height": 32}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def submit(client: httpx.Client, **params: object) -> dict:
    response = client.post("/api/v1/tasks", json={**QUICK, **params})
    assert response.status_code == 201, response.text
    return response.json()


def wait_finished(client: httpx.Client, task_id: str, timeout: float = 120) -> dict:
    """Follow the task's SSE stream to its end, then return the task."""
    list(sse_events(client, task_id, timeout=timeout))
    return client.get(f"/api/v1/tasks/{task_id}").json()


def sse_events(
    client: httpx.Client, task_id: str, headers: dict[str, str] | None = None, params: dict | None = None,
    timeout: float = 120, limit: int | None = None,
) -> Iterator[dict]:
    """Parsed SSE messages ({'id', 'event', 'data'}) until the stream ends (or ``limit`` of them)."""
    count = 0
    with client.stream(
        "GET", f"/api/v1/tasks/{task_id}/events", headers=headers, params=params, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        message: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in message:
                    yield message
                    count += 1
                    if limit is not None and count >= limit:
                        return
                message = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                message[field] = value


@contextmanager
def running(live: LiveServer, client: httpx.Client, **params: object) -> Iterator[dict]:
    """A long task of ``client``'s, yielded while it is running and has a live preview (the keyed
    server previews every step). The worker is held inside the denoiser from the first step after
    that preview until somebody stops the task, so the task is running for as long as the test acts
    on it, however fast the machine; it is interrupted at the end if still alive.

    The task gets a server-made id unless ``id=`` chooses one; a chosen id is stored per identity
    (``<id>~<digest>``), and the hold looks the task up under its stored id."""
    runtime = live.runtime
    chosen = params.pop("id", None)
    stored: list[str] = []  # the task's stored id, once known

    def stored_id() -> str | None:
        if not stored and chosen is not None:
            for task in runtime.service.list(states=["queued", "running"], limit=200):
                if task.id.rpartition("~")[0] == chosen:
                    stored.append(task.id)
                    break
        return stored[0] if stored else None

    hold = Hold(
        denoiser(runtime),
        when=lambda: (task_id := stored_id()) is not None and runtime.service.store.get_preview(task_id) is not None,
        until=lambda timeout: (task_id := stored_id()) is not None and until_stopped(runtime, task_id)(timeout),
    )
    task: dict = {}
    try:
        # A server-made id by default: stored as it is, so an admin reaches the task under the same id.
        task = submit(client, **({"id": chosen} if chosen is not None else {}), **{**LONG, **params})
        if chosen is None:
            stored.append(task["id"])
        for message in sse_events(client, task["id"]):
            if message["event"] == "preview":
                break
        assert hold.reached.wait(60), "the task must be held right after its first preview"
        yield task
    finally:
        if task:
            client.post(f"/api/v1/tasks/{task['id']}/interrupt")
            wait_finished(client, task["id"])
        hold.remove()


@contextmanager
def held_after_a_step(live: LiveServer) -> Iterator[Hold]:
    """Hold the worker of ``live`` inside the denoiser as soon as the running task (whoever submitted it,
    however: a blocking A1111 request has no id the test knows) has reported a finished step, until
    somebody stops that task (``noted``: that task as it was held). For scripts that poll progress until it
    moves, then stop the task."""
    runtime = live.runtime

    def running_id() -> str | None:
        tasks = runtime.service.list(states=[TaskState.RUNNING], limit=1)
        return tasks[0].id if tasks and tasks[0].progress.step >= 1 else None

    hold = Hold(
        denoiser(runtime),
        when=lambda: running_id() is not None,
        until=lambda timeout: (task_id := running_id()) is not None and until_stopped(runtime, task_id)(timeout),
        note=lambda: runtime.service.get(running_id()),  # the task as held: the steps it finished so far
    )
    try:
        yield hold
    finally:
        hold.remove()
