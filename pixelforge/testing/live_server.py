"""A real pixelforge server for tests and benchmarks: Runtime + uvicorn on a free loopback port, in a thread
(``serve_process`` runs one in its own process instead)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from pixelforge.config import Settings
from pixelforge.runtime import Runtime
from pixelforge.server.app import PixelforgeServer, create_app, server_for
from pixelforge.tasks.model import TaskState
from pixelforge.testing.ports import loopback_socket

ACTIVE = [TaskState.QUEUED, TaskState.RUNNING]


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    thread: threading.Thread
    server: PixelforgeServer

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(30)

    def wait_state(self, task_id: str, states: set[TaskState], timeout: float = 120) -> TaskState:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.runtime.service.get(task_id).state
            if state in states:
                return state
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} never reached {states}")

    def stop_everything(self) -> None:
        """Interrupt or cancel every queued and running task, and wait until the worker is idle."""
        service = self.runtime.service
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            active = service.list(states=ACTIVE, limit=100)
            if not active:
                return
            for task in active:
                service.interrupt(task.id, reason="test-teardown")
            time.sleep(0.05)
        raise AssertionError("tasks still active after the test's teardown")


def start_server(settings: Settings, timeout: float = 120, workers: int = 1) -> LiveServer:
    """``workers=0`` gives a server whose tasks nobody runs (a dead worker, for the UI's failure paths)."""
    return serve_runtime(Runtime(settings, workers=workers), timeout)


def serve_runtime(runtime: Any, timeout: float = 120) -> LiveServer:
    """Serve any server runtime (one process's ``Runtime``, distributed mode's ``ApiRuntime``)."""
    app = create_app(runtime)
    sock = loopback_socket()  # uvicorn serves on this very socket: no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = server_for(app, "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(url=f"http://127.0.0.1:{port}", runtime=runtime, thread=thread, server=server)
