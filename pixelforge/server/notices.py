"""Sends each finished task's view to its ``callback_url``: signed, retried with back-off, never redirected.

The server follows the bus's terminal events; a task with a callback URL gets one POST of its view as JSON (what
GET /api/v1/tasks/{id} shows its owner), signed with ``callback_secret`` (``X-Pixelforge-Signature``). A failure
(no answer, or not 2xx) is tried again after ``callback_retry_s``, doubling, ``callback_attempts`` times in all. A
redirect is a failure, never followed: the only address ever sent to is the one the allow-list let through.
One POST per task in all: with several API servers on one Redis, the server that claims the notice in the store
sends it.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from pixelforge.config import Settings
from pixelforge.server.schemas import TaskOut
from pixelforge.tasks.bus import Subscription
from pixelforge.tasks.model import TERMINAL_STATES, EventType, Task
from pixelforge.tasks.notices import SIGNATURE_HEADER, CallbackPolicy
from pixelforge.tasks.service import TaskService

log = logging.getLogger(__name__)

# Seconds one POST may take before it counts as failed.
POST_TIMEOUT_S = 10.0
# Notices sent at once; more wait their turn (a slow receiver never holds up the server).
SENDERS = 4
TERMINAL_EVENTS = frozenset(EventType(state.value) for state in TERMINAL_STATES)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: object, **__: object) -> None:
        return None  # the 3xx answer stays an error: a notice goes to the allowed address or nowhere


class Notifier:
    def __init__(self, service: TaskService, settings: Settings) -> None:
        self._service = service
        self._policy = CallbackPolicy(frozenset(settings.callback_hosts), settings.callback_secret)
        self._attempts = settings.callback_attempts
        self._retry_s = settings.callback_retry_s
        self._stopping = threading.Event()
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="pixelforge-notice")
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._policy.hosts:
            return  # no callback URL can have been accepted: nothing to follow
        subscription = self._service.subscribe(types=TERMINAL_EVENTS)
        self._thread = threading.Thread(target=self._follow, args=(subscription,), name="pixelforge-notices",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        self._senders.shutdown(wait=False, cancel_futures=True)

    def _follow(self, subscription: Subscription) -> None:
        with subscription:
            while not self._stopping.is_set():
                event = subscription.get(0.5)
                if event is None:
                    continue
                try:
                    task = self._service.get(event.task_id)
                    # Every API server follows the ends: the one that claims the notice sends it.
                    ours = task.origin.callback_url is not None and self._service.store.claim_notice(task.id)
                except Exception:  # pruned meanwhile, or the store is away: nothing to send
                    log.exception("could not read %s for its end notice", event.task_id)
                    continue
                if ours:
                    self._senders.submit(self._deliver, task)

    def _deliver(self, task: Task) -> bool:
        """POST the task's view until a 2xx answer or the attempts run out; True when delivered."""
        url = task.origin.callback_url
        assert url is not None
        if self._policy.problems(url):  # the settings changed since it was accepted: still never sent elsewhere
            log.warning("end notice of %s not sent: %s is no longer allowed", task.id, url)
            return False
        body = TaskOut.of(task, task.owner).model_dump_json().encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: self._policy.sign(body),
                   "User-Agent": "pixelforge-notice"}
        delay = self._retry_s
        for attempt in range(1, self._attempts + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=POST_TIMEOUT_S) as response:
                    if 200 <= response.status < 300:
                        return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("end notice of %s, attempt %d of %d: %s", task.id, attempt, self._attempts, exc)
            if attempt < self._attempts and self._stopping.wait(delay):
                return False  # the server is stopping
            delay *= 2
        return False
