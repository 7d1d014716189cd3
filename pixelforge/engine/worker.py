"""The worker: one per device. Claims queued tasks in order and runs each through its task context."""

from __future__ import annotations

import logging
import threading

from pixelforge.backends.base import Backend
from pixelforge.config import Settings
from pixelforge.engine.preview import PreviewEncoder
from pixelforge.engine.runner import TaskRunner
from pixelforge.engine.tokens import TokenRegistry
from pixelforge.tasks.model import EventType, Task, TaskState
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.stop import StopToken

log = logging.getLogger(__name__)

# How long the idle loop sleeps between looks at the store when no bus event wakes it.
IDLE_POLL_S = 0.5


class Worker:
    def __init__(
        self,
        service: TaskService,
        backend: Backend,
        settings: Settings,
        tokens: TokenRegistry,
        worker_id: str = "worker-0",
    ) -> None:
        self.service = service
        self.backend = backend
        self.settings = settings
        self.tokens = tokens
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._encoder: PreviewEncoder | None = None
        self._runner: TaskRunner | None = None
        self._current: StopToken | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._encoder = PreviewEncoder()
        self._runner = TaskRunner(self.backend, self.settings, self._encoder)
        self._thread = threading.Thread(target=self._loop, name=f"pixelforge-{self.worker_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt the running task (reason ``shutdown``) and end the loop."""
        self._closing.set()
        with self._lock:
            running = self._current
        if running is not None:
            running.interrupt(reason="shutdown")
        if self._thread is not None:
            self._thread.join(timeout)
        if self._encoder is not None:
            self._encoder.close()

    # --- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        # Only "queued" events wake the worker: the progress of its own task never reaches this inbox.
        with self.service.subscribe(types=frozenset({EventType.QUEUED})) as wakeups:
            while not self._closing.is_set():
                task = self.service.claim_next(self.worker_id)
                if task is None:
                    wakeups.get(IDLE_POLL_S)
                    continue
                self._run(task)
                while wakeups.get(0) is not None:  # tasks queued meanwhile: claim_next finds them all
                    pass

    def _run(self, task: Task) -> None:
        token, hooks = self.tokens.begin(task.id)
        with self._lock:
            self._current = token
        if self._closing.is_set():
            token.interrupt(reason="shutdown")
        assert self._runner is not None
        try:
            context = self.service.start(task, token, str(getattr(self.backend, "device", "cpu")))
            end = self._runner.run(context, hooks)
        finally:
            # Forgotten before the terminal event: whoever sees that event finds nothing left behind.
            self.tokens.end(task.id)
            with self._lock:
                self._current = None
        finished = self.service.finish(task.id, end)
        if finished.state is not TaskState.COMPLETED:
            # gc + empty_cache: a stop or failure must not leave memory held. Only now, after the terminal
            # event and the token's removal, and still before the next claim: a full gc takes 0.2-0.5 s in a
            # process holding torch + diffusers, and a stop is reported as soon as the pipeline has left.
            self.backend.release()
