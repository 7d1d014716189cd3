"""The worker: one per device. Claims queued tasks in order and runs them; listens for stop requests."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pixelforge.backends.base import Backend
from pixelforge.config import Settings
from pixelforge.engine.control import EarlyStopRule, StepInfo, StopToken
from pixelforge.engine.preview import PreviewEncoder
from pixelforge.engine.runner import RunHooks, TaskRunner
from pixelforge.tasks.history import prune_history
from pixelforge.tasks.model import EventType, StopRequest, Task, TaskState
from pixelforge.tasks.service import TaskService

log = logging.getLogger(__name__)

# How long the idle loop sleeps between looks at the store when no bus event wakes it.
IDLE_POLL_S = 0.5


class Worker:
    def __init__(self, service: TaskService, backend: Backend, settings: Settings, worker_id: str = "worker-0") -> None:
        self.service = service
        self.backend = backend
        self.settings = settings
        self.worker_id = worker_id
        self._tokens: dict[str, StopToken] = {}
        self._hooks: dict[str, RunHooks] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._unregister_control = None
        self._encoder: PreviewEncoder | None = None
        self._runner: TaskRunner | None = None
        self.current_task_id: str | None = None

    # --- Python API extras -----------------------------------------------------------------
    def attach(
        self,
        task_id: str,
        token: StopToken | None = None,
        early_stop: EarlyStopRule | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
    ) -> StopToken:
        """Give a task (before it runs) a caller-owned StopToken, an early-stop rule, a step callback."""
        with self._lock:
            token = self._tokens.setdefault(task_id, token or StopToken())
            self._hooks[task_id] = RunHooks(early_stop=early_stop, on_step=on_step)
        return token

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._unregister_control = self.service.bus.on_control(self._on_control)
        self._encoder = PreviewEncoder()
        self._runner = TaskRunner(self.service, self.backend, self.settings, self._encoder)
        self._thread = threading.Thread(target=self._loop, name=f"pixelforge-{self.worker_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt the running task (reason ``shutdown``) and end the loop."""
        self._closing.set()
        with self._lock:
            running = self._tokens.get(self.current_task_id) if self.current_task_id else None
        if running is not None:
            running.interrupt(reason="shutdown")
        if self._thread is not None:
            self._thread.join(timeout)
        if self._unregister_control is not None:
            self._unregister_control()
        if self._encoder is not None:
            self._encoder.close()

    def _on_control(self, task_id: str, request: StopRequest) -> None:
        with self._lock:
            token = self._tokens.get(task_id)
        if token is not None:
            token.request(request)

    # --- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        # Only "queued" events wake the worker: the progress of its own task never reaches this inbox.
        with self.service.bus.subscribe(types=frozenset({EventType.QUEUED})) as wakeups:
            while not self._closing.is_set():
                task = self.service.store.claim_next(self.worker_id)
                if task is None:
                    wakeups.get(IDLE_POLL_S)
                    continue
                self._run(task)
                while wakeups.get(0) is not None:  # tasks queued meanwhile: claim_next finds them all
                    pass

    def _run(self, task: Task) -> None:
        with self._lock:
            token = self._tokens.setdefault(task.id, StopToken())
            hooks = self._hooks.pop(task.id, RunHooks())
            self.current_task_id = task.id
        # A stop that reached the store before this worker had a token is honoured now.
        persisted = self.service.store.get(task.id).stop_request
        if persisted is not None:
            token.request(persisted)
        if self._closing.is_set():
            token.interrupt(reason="shutdown")
        self.service.announce_positions()
        assert self._runner is not None
        try:
            finished = self._runner.run(task, token, hooks)
        finally:
            with self._lock:
                self._tokens.pop(task.id, None)
                self.current_task_id = None
        prune_history(self.service.store, self.settings.data_dir, self.settings.history_limit)
        if finished.state is not TaskState.COMPLETED:
            # gc + empty_cache: a stop or failure must not leave memory held. Only now, after the terminal
            # event and the token's removal, and still before the next claim: a full gc takes 0.2-0.5 s in a
            # process holding torch + diffusers, and a stop is reported as soon as the pipeline has left.
            self.backend.release()
