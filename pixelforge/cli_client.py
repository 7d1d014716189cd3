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
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The identity of the CLI's tasks on a server without API keys (see the README's "Identities and auth").
CLIENT_ID = "pixelforge-cli"
# Finding a local server must cost next to nothing when there is none (connection refused is immediate).
PROBE_TIMEOUT_S = 0.5
# The server writes a keep-alive comment every 15 s; a minute of silence means the connection is gone.
READ_TIMEOUT_S = 60.0
RECONNECTS = 5
TERMINAL = {"completed", "interrupted", "failed", "cancelled"}


class ServerError(Exception):
    """The server answered with an error: ``status`` and its message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(Exception):
    """Nothing answers at the URL, or the connection broke for good."""


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

    @property
    def _parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.url)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        parts = self._parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-Client-Id": CLIENT_ID}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers | (extra or {})

    def _path(self, path: str) -> str:
        return self._parts.path.rstrip("/") + path

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> bytes:
        """The response body of a 2xx answer; ServerError otherwise, ServerUnreachable when nobody answers."""
        data = None if body is None else json.dumps(body).encode()
        headers = self._headers({"Content-Type": "application/json"} if data is not None else None)
        connection = self._connection(timeout)
        try:
            connection.request(method, self._path(path), body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerUnreachable(f"{self.url}: {exc}") from exc
        finally:
            connection.close()
        if response.status == 401:
            raise ServerError(401, f"the server at {self.url} needs an API key: set PIXELFORGE_API_KEY")
        if not 200 <= response.status < 300:
            raise ServerError(response.status, _message(response.status, payload))
        return payload

    def json(self, method: str, path: str, body: Any = None) -> Any:
        return json.loads(self.request(method, path, body))

    def alive(self) -> bool:
        """Whether a pixelforge server answers here (its health route), within PROBE_TIMEOUT_S."""
        try:
            health = json.loads(self.request("GET", "/api/v1/health", timeout=PROBE_TIMEOUT_S))
        except (ServerUnreachable, ServerError, ValueError):
            return False
        return isinstance(health, dict) and health.get("status") == "ok"

    def events(self, task_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, data) of every event of the task, live, up to its terminal event; a dropped connection
        resumes after the last event seen (Last-Event-ID)."""
        last_seq = 0
        failures = 0
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
                    yield kind, payload.get("data", {})
                    if kind in TERMINAL:
                        return
            except (OSError, http.client.HTTPException) as exc:
                failures += 1
                if failures > RECONNECTS:
                    raise ServerUnreachable(f"lost the connection to {self.url}: {exc}") from exc
            finally:
                connection.close()


def _parse_sse(response: http.client.HTTPResponse) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(id, event, JSON data) of each message of an event stream; comments and retry lines are skipped."""
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


def find_server(explicit: str | None) -> Server | None:
    """The server to use: ``--server URL`` (it must answer), else ``$PIXELFORGE_SERVER`` (``none`` = never),
    else a ``pixelforge serve`` on this machine at the configured host and port, when one answers."""
    api_key = os.environ.get("PIXELFORGE_API_KEY") or None
    if explicit:
        server = Server(explicit.rstrip("/"), api_key)
        if not server.alive():
            raise ServerUnreachable(f"no pixelforge server answers at {server.url}")
        return server
    configured = os.environ.get("PIXELFORGE_SERVER", "")
    if configured.lower() == "none":
        return None
    if not configured:
        host = os.environ.get("PIXELFORGE_HOST", "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # a wildcard bind is reached on loopback
        configured = f"http://{host}:{os.environ.get('PIXELFORGE_PORT', '7860')}"
    server = Server(configured.rstrip("/"), api_key)
    return server if server.alive() else None
