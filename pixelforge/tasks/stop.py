"""The per-task StopToken: what a running task reads to know whether to stop (never a global flag).

It lives in the domain, not the engine, because every side holds one: the task context hands it
to the engine, the worker feeds it the stop requests that arrive on the bus, and a Python caller
may share their own with another thread.
"""

from __future__ import annotations

import threading

from pixelforge.tasks.model import StopRequest


class StopToken:
    """Thread-safe stop flag of one task. ``interrupt`` ends the task, ``skip`` ends the current job,
    ``interrupt_after_job`` ends the task once the running job has finished.

    Safe to share with any thread (a UI handler, a timer, a signal handler). A later interrupt
    replaces a pending skip; a skip never downgrades a pending interrupt. A skip is used up by the
    job it ends (:meth:`clear_skip`), which is the only place a skip is ever cleared.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._request: StopRequest | None = None
        # An interrupt for after the running job: kept apart, since nothing inside a job may see it as a stop.
        self._after_job: StopRequest | None = None
        self._requested = threading.Event()

    def request(self, request: StopRequest) -> None:
        with self._lock:
            if request.when == "after_job":
                if not self.interrupted:
                    self._after_job = request
                    self._requested.set()
                return
            if request.yields_to(self._request):  # a pending interrupt is never downgraded to a skip
                return
            self._request = request
            self._requested.set()

    def interrupt(self, keep_partial: bool = False, reason: str = "user") -> None:
        """Stop the whole task. Finished images are kept; ``keep_partial`` also decodes the current one."""
        self.request(StopRequest(action="interrupt", keep_partial=keep_partial, reason=reason))

    # The seed tutorial's name for the same thing.
    request_interrupt = interrupt

    def interrupt_after_job(self, reason: str = "user") -> None:
        """Stop the task once the running job has finished: its images are kept, no further job starts."""
        self.request(StopRequest(action="interrupt", when="after_job", reason=reason))

    def skip(self, keep_partial: bool = False) -> None:
        """End the current job and go on with the next one. Its unfinished images are discarded, or with
        ``keep_partial`` decoded from the current estimate and kept (A1111's skip)."""
        self.request(StopRequest(action="skip", keep_partial=keep_partial, reason="user"))

    @property
    def pending(self) -> StopRequest | None:
        return self._request  # a single reference read: atomic, no lock needed on the hot path

    @property
    def interrupted(self) -> bool:
        request = self._request
        return request is not None and request.action == "interrupt"

    @property
    def after_job(self) -> StopRequest | None:
        """An interrupt waiting for the running job to finish (None when there is none)."""
        return self._after_job

    @property
    def ending(self) -> StopRequest | None:
        """The request that ends the task: an interrupt now, else one after the job."""
        return self._request if self.interrupted else self._after_job

    def clear_skip(self) -> None:
        with self._lock:
            if self._request is not None and self._request.action == "skip":
                self._request = None
                if self._after_job is None:
                    self._requested.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is pending (or ``timeout``); True when one is. For callers that hold work
        until somebody stops it, such as a test holding a task at a known step."""
        return self._requested.wait(timeout)
