"""Stopping the server: open event streams end, the running task is marked interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from serverkit import LONG, sse_events

from pixelforge.config import Settings
from pixelforge.server.task_ids import stored_id
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.testing.hooks import Hold, denoiser, until_stopped
from pixelforge.testing.live_server import start_server


def test_shutdown_ends_streams_and_interrupts_the_running_task(server_model: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model=server_model, preview_every=0)
    live = start_server(settings)
    runtime = live.runtime
    seen: list[str] = []
    task_id = "task(shutdown-test)"
    # A chosen id is stored per identity (main's issue 12): the store and the worker know the stored one.
    stored = stored_id("client:shutdown-test", task_id)
    # The worker waits at the task's first step until the shutdown interrupts it: it is running then,
    # however fast the machine.
    hold = Hold(denoiser(runtime), when=lambda: True, until=until_stopped(runtime, stored))
    with live.client(headers={"X-Client-Id": "shutdown-test"}) as client:
        task = client.post("/api/v1/tasks", json={**LONG, "id": task_id}).json()

        errors: list[Exception] = []

        def watch() -> None:
            try:
                for message in sse_events(client, task["id"]):
                    seen.append(message["event"])
            except Exception as exc:  # a stream cut mid-chunk instead of ended
                errors.append(exc)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert hold.reached.wait(60)
        live.stop()
        watcher.join(60)
        assert not watcher.is_alive(), "the SSE stream must end when the server stops"
        assert errors == []
        assert not live.thread.is_alive()

    store = SQLiteTaskStore(settings.db_path)
    try:
        stopped = store.get(stored)
        assert stopped.state.value == "interrupted" and stopped.stop_reason == "shutdown"
        assert store.events_since(stored)[-1].type.value == "interrupted"
    finally:
        store.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{live.url}/api/v1/health", timeout=2)
