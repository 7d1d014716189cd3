"""The stop tokens of one process's tasks, shared by all its workers.

A stop request arrives on the bus for a task id; whichever worker runs that task must see it, so the
tokens do not live in a worker. A Python caller may attach its own token (and an early-stop rule and
a step callback) before the task is queued; the worker that claims the task takes them from here.
An attached entry whose task is cancelled before it ran is dropped as soon as the registry next looks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pixelforge.engine.control import EarlyStopRule, StepInfo
from pixelforge.engine.runner import RunHooks
from pixelforge.tasks.bus import Subscription
from pixelforge.tasks.model import StopRequest
from pixelforge.tasks.stop import StopToken


class TokenRegistry:
    def __init__(self, cancellations: Subscription) -> None:
        """``cancellations``: the bus's ``cancelled`` events, which end a waiting attachment."""
        self._lock = threading.Lock()
        self._attached: dict[str, tuple[StopToken, RunHooks]] = {}
        self._running: dict[str, tuple[StopToken, int | None]] = {}
        self._cancellations = cancellations

    def attach(
        self,
        task_id: str,
        token: StopToken | None = None,
        early_stop: EarlyStopRule | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
    ) -> StopToken:
        """Give a task (before it is queued) a caller-owned token, an early-stop rule, a step callback."""
        token = token or StopToken()
        with self._lock:
            self._forget_cancelled()
            self._attached[task_id] = (token, RunHooks(early_stop=early_stop, on_step=on_step))
        return token

    def detach(self, task_id: str) -> None:
        """Drop what was attached to a task that will never run (its submission was refused)."""
        with self._lock:
            self._attached.pop(task_id, None)

    def begin(self, task_id: str, job_no: int | None = None) -> tuple[StopToken, RunHooks]:
        """The token and extras of a task a worker starts (``job_no``: the one job of it that this worker runs,
        when its jobs run on several workers); stop requests for that run reach the token from now on."""
        with self._lock:
            self._forget_cancelled()
            attached = self._attached.pop(task_id, None)
            token, hooks = attached if attached is not None else (StopToken(), RunHooks())
            self._running[task_id] = (token, job_no)
        return token, hooks

    def running(self, task_id: str) -> StopToken | None:
        """The token of a task running here now, else None."""
        with self._lock:
            running = self._running.get(task_id)
        return running[0] if running is not None else None

    def end(self, task_id: str) -> None:
        with self._lock:
            self._running.pop(task_id, None)

    def deliver(self, task_id: str, request: StopRequest) -> None:
        """The bus's control handler: a stop request for a running task reaches its token (a skip meant for
        other jobs of the task does not)."""
        with self._lock:
            running = self._running.get(task_id)
        if running is not None and request.applies_to(running[1]):
            running[0].request(request)

    def __len__(self) -> int:
        """Tasks this registry still holds anything for (attached or running)."""
        with self._lock:
            self._forget_cancelled()
            return len(self._attached) + len(self._running)

    def _forget_cancelled(self) -> None:
        while (event := self._cancellations.get(0)) is not None:
            self._attached.pop(event.task_id, None)
