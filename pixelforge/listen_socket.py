"""The server's listening socket, bound before anything starts: a busy port is one line, not a traceback.

uvicorn binds its port only after the application's start-up, so a taken port used to read "Application
startup complete" followed by a raw ``[Errno 98]``. Binding here first lets ``pixelforge serve`` say which
port is taken, whether a pixelforge holds it, and how to pick another one.
"""

from __future__ import annotations

import errno
import socket

from pixelforge.cli.client import Server, ServerUnhealthy, ServerUnreachable
from pixelforge.cli.common import served_url

HOW_TO_CHOOSE = "choose another with --port N (or PIXELFORGE_PORT=N, or make run PORT=N)"


class PortUnavailable(Exception):
    """The address cannot be bound: one line for people."""


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) for uvicorn to serve on; PortUnavailable when that cannot be."""
    try:
        return socket.create_server((host, port))  # SO_REUSEADDR as uvicorn sets it: a restart rebinds at once
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {host} is already in use by {_holder(host, port)}; "
                                  f"{HOW_TO_CHOOSE}") from exc
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _holder(host: str, port: int) -> str:
    """Who answers on the port: a pixelforge server (its health route says so) or some other program."""
    url = served_url(host, port)
    try:
        Server(url).check_health()
    except ServerUnhealthy:
        return f"a pixelforge server ({url}, unhealthy)"
    except ServerUnreachable:
        return "another program (not a pixelforge server)"
    return f"a pixelforge server ({url})"
