"""The CLI as a thin client of a running ``pixelforge serve`` (as ``ollama run`` talks to its server).

Importing torch and diffusers costs seconds; a server has them loaded already. This module uses the standard
library only (http.client, json): ``generate`` submits the task over the native API, follows its Server-Sent
Events into the same progress bar, downloads each image as it is finished, and a Ctrl+C interrupts the task on
the server.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pixelforge.cli.common import served_url
from pixelforge.tasks.vocabulary import TERMINAL_STATES

# The identity of the CLI's tasks on a server without API keys (see the README's "Identities and auth").
CLIENT_ID = "pixelforge-cli"
# Finding a local server must cost next to nothing when there is none (connection refused is immediate).
PROBE_TIMEOUT_S = 0.5
# The server writes a keep-alive comment every 15 s; a minute of silence means the connection is gone.
READ_TIMEOUT_S = 60.0
# A dropped event stream is resumed with growing pauses (a server restart takes seconds, a blip none); the CLI
# gives up when no event has come for this long since the first failure.
RECONNECT_WINDOW_S = 60.0
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.25, 4.0
TERMINAL = {state.value for state in TERMINAL_STATES}
# HTTP answers that mean the request itself was wrong (the CLI's exit code 2), as opposed to the server's trouble.
BAD_REQUEST = {400, 404, 409, 413, 422}


class ServerError(Exception):
    """The server answered with an error: ``status`` and its message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(Exception):
    """Nothing answers at the URL, or the connection broke for good."""


class ServerUnhealthy(ServerUnreachable):
    """A pixelforge server answers but its health check fails (a worker dead or stuck): a task sent there would
    wait, and one run in this process beside it would compete for the same device."""


def _message(status: int, body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return f"HTTP {status}"
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # a 422: "steps: ...", field paths without the "body" prefix, as in process
        return "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', []) if part != 'body')}: {item.get('msg', '')}"
            for item in detail
            if isinstance(item, dict)
        )
    return f"HTTP {status}"


@dataclass
class Server:
    url: str
    api_key: str | None = None
    client_id: str = CLIENT_ID

    @property
    def _parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.url)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        parts = self._parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-Client-Id": self.client_id}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers | (extra or {})

    def _path(self, path: str) -> str:
        return self._parts.path.rstrip("/") + path

    def _exchange(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, bytes]:
        """(status, body) of the answer; ServerUnreachable when nobody answers."""
        data = None if body is None else json.dumps(body).encode()
        headers = self._headers({"Content-Type": "application/json"} if data is not None else None)
        connection = self._connection(timeout)
        try:
            connection.request(method, self._path(path), body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerUnreachable(f"{self.url}: {exc}") from exc
        finally:
            connection.close()

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> bytes:
        """The response body of a 2xx answer; ServerError otherwise, ServerUnreachable when nobody answers."""
        status, payload = self._exchange(method, path, body, timeout)
        if status == 401:
            raise ServerError(401, f"the server at {self.url} needs an API key: set PIXELFORGE_API_KEY")
        if not 200 <= status < 300:
            raise ServerError(status, _message(status, payload))
        return payload

    def json(self, method: str, path: str, body: Any = None) -> Any:
        return json.loads(self.request(method, path, body))

    def check_health(self) -> None:
        """Returns when a healthy pixelforge server answers here within PROBE_TIMEOUT_S. ServerUnreachable when
        none does (nothing listens, or something that is not pixelforge), ServerUnhealthy when its health route
        answers 'unhealthy' (HTTP 503), naming the worker and its last error."""
        absent = ServerUnreachable(f"no pixelforge server answers at {self.url}")
        try:
            _, payload = self._exchange("GET", "/api/v1/health", timeout=PROBE_TIMEOUT_S)
            health = json.loads(payload)
        except (ServerUnreachable, ValueError):
            raise absent from None
        if not isinstance(health, dict) or health.get("status") not in ("ok", "unhealthy"):
            raise absent
        if health["status"] == "unhealthy":
            # No worker at all happens in distributed mode only (one process always runs its own): start one.
            advice = "restart it" if health.get("workers") else "start one with `pixelforge worker --redis URL`"
            raise ServerUnhealthy(f"the pixelforge server at {self.url} is unhealthy ({_failing_worker(health)}); "
                                  f"{advice}, or run here with --local")

    def has_live_worker(self) -> bool:
        """Whether the server's health route lists a worker that is alive and not stuck (a queued task's hope)."""
        try:
            _, payload = self._exchange("GET", "/api/v1/health", timeout=PROBE_TIMEOUT_S * 4)
            workers = json.loads(payload).get("workers") or []
        except (ServerUnreachable, ValueError, AttributeError):
            return True  # no answer is not news that the workers are gone; the event stream reports a lost server
        return any(isinstance(w, dict) and w.get("alive") and not w.get("stuck") for w in workers)

    def events(self, task_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, data) of every event of the task, live, up to its terminal event."""
        for _, kind, data in self.numbered_events(task_id):
            yield kind, data

    def numbered_events(self, task_id: str, after_seq: int = 0) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(seq, type, data) of every event of the task after ``after_seq``, live, up to its terminal event; a
        dropped connection resumes after the last event seen (Last-Event-ID), after a pause that grows with each
        failure."""
        last_seq = after_seq
        failures, first_failure = 0, 0.0
        path = self._path(f"/api/v1/tasks/{urllib.parse.quote(task_id, safe='')}/events")
        while True:
            connection = self._connection(READ_TIMEOUT_S)
            headers = self._headers({"Accept": "text/event-stream", "Last-Event-ID": str(last_seq)})
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                if response.status == 204:
                    return  # the terminal event was seen already
                if response.status != 200:
                    raise ServerError(response.status, _message(response.status, response.read()))
                for seq, kind, payload in _parse_sse(response):
                    failures = 0
                    last_seq = max(last_seq, seq)
                    yield seq, kind, payload.get("data", {})
                    if kind in TERMINAL:
                        return
            except (OSError, http.client.HTTPException) as exc:
                if failures == 0:
                    first_failure = time.monotonic()
                pause = min(RECONNECT_FIRST_S * 2**failures, RECONNECT_MAX_S)
                failures += 1
                if time.monotonic() + pause - first_failure > RECONNECT_WINDOW_S:
                    raise ServerUnreachable(f"lost the connection to {self.url}: {exc}") from exc
                time.sleep(pause)
            finally:
                connection.close()


def _failing_worker(health: dict[str, Any]) -> str:
    """What the health answer says is wrong: its store, else the first worker that has stopped, is stuck or has a
    problem, and why."""
    if health.get("problem"):
        return str(health["problem"])
    if not health.get("workers"):
        return "no worker is running"
    for worker in health["workers"]:
        if isinstance(worker, dict) and worker.get("problem"):
            return f"worker {worker.get('worker_id')}: {worker['problem']}"
        if isinstance(worker, dict) and (not worker.get("alive") or worker.get("stuck")):
            what = "is stuck" if worker.get("alive") else "has stopped"
            error = f": {worker['last_error']}" if worker.get("last_error") else ""
            return f"worker {worker.get('worker_id')} {what}{error}"
    return "a worker has stopped or is stuck"


def _parse_sse(response: http.client.HTTPResponse) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(id, event, JSON data) of each message of an event stream; comments and retry lines are skipped."""
    data: list[str]
    seq, kind, data = 0, "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield seq, kind, json.loads("\n".join(data))
            seq, kind, data = 0, "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                seq = int(value)
            elif name == "event":
                kind = value
            elif name == "data":
                data.append(value)


def default_server_url() -> str:
    """Where a ``pixelforge serve`` on this machine listens: ``PIXELFORGE_HOST`` / ``PIXELFORGE_PORT``."""
    return served_url(os.environ.get("PIXELFORGE_HOST", "127.0.0.1"), os.environ.get("PIXELFORGE_PORT", "7860"))


def find_server(explicit: str | None) -> Server | None:
    """The server to use: ``--server URL`` (it must answer), else ``$PIXELFORGE_SERVER`` (``none`` = never),
    else a ``pixelforge serve`` on this machine at the configured host and port, when one answers."""
    api_key = os.environ.get("PIXELFORGE_API_KEY") or None
    if explicit:
        server = Server(explicit.rstrip("/"), api_key)
        server.check_health()
        return server
    configured = os.environ.get("PIXELFORGE_SERVER", "")
    if configured.lower() == "none":
        return None
    if not configured:
        configured = default_server_url()
    server = Server(configured.rstrip("/"), api_key)
    try:
        server.check_health()
    except ServerUnhealthy:
        raise  # not silently replaced by a run here, beside a server that holds the device
    except ServerUnreachable:
        return None
    return server
