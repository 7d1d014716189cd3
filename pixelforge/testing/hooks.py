"""Reach a known point of a real generation from inside the work itself, never by waiting on a clock.

``Calls`` counts completed forwards of a module and may act right after the ``at``-th one (a click
that lands exactly there); ``Hold`` keeps the worker inside a module's forward pre-hook, from the
first call at which ``when()`` holds, until ``until()`` says to go on (typically: until the task's
stop token has a request, so the task is running for as long as the test needs it to).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

# The longest a held worker waits for its release before it goes on anyway (a broken test must end).
HOLD_LIMIT_S = 120.0


class Calls:
    """Counts completed forwards of a module; optionally runs an action after the ``at``-th one."""

    def __init__(self, module: torch.nn.Module, at: int | None = None, action: Callable[[], None] | None = None):
        self.count = 0
        self._at, self._action = at, action
        self._every: int | None = None
        self._handle = module.register_forward_hook(self._hook)

    def every(self, period: int) -> Calls:
        """Run the action after every ``period``-th forward instead of once."""
        self._every = period
        return self

    def _hook(self, *_: Any) -> None:
        self.count += 1
        due = self.count % self._every == 0 if self._every else self.count == self._at
        if self._action is not None and due:
            self._action()

    def remove(self) -> None:
        self._handle.remove()


class Hold:
    """Holds the thread that runs ``module`` once ``when()`` is true, until ``until(timeout)`` is. ``note()``, if
    given, is read as the hold begins (``noted``): what the held run looked like, e.g. its task's progress."""

    def __init__(
        self,
        module: torch.nn.Module,
        when: Callable[[], bool],
        until: Callable[[float], bool],
        note: Callable[[], Any] | None = None,
    ) -> None:
        self.reached = threading.Event()
        self.noted: Any = None
        self._when, self._until, self._note = when, until, note
        self._handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, *_: Any) -> None:
        if self.reached.is_set() or not self._when():
            return
        if self._note is not None:
            self.noted = self._note()
        self.reached.set()
        self._until(HOLD_LIMIT_S)

    def remove(self) -> None:
        self._handle.remove()


def denoiser(runtime: Any) -> torch.nn.Module:
    """The denoiser (UNet or transformer) of the first worker's model, loaded if it is not yet."""
    model = runtime.workers[0].backend.load(runtime.settings.model, None, 1.0)
    return model.modules()[model.denoiser_name]


def until_stopped(runtime: Any, task_id: str) -> Callable[[float], bool]:
    """An ``until`` for :class:`Hold`: the task's stop token has a request (a click, a timeout, a shutdown)."""

    def wait(timeout: float) -> bool:
        token = runtime.tokens.running(task_id)
        return token is not None and token.wait(timeout)

    return wait
