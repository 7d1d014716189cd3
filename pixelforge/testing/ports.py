"""Free loopback ports for the servers that tests and benchmarks start."""

from __future__ import annotations

import socket


def loopback_socket() -> socket.socket:
    """A socket bound to a port of 127.0.0.1 that the system chose; hand it to a server to keep the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A loopback port nobody listens on now, for a server in another process (which binds it itself)."""
    with loopback_socket() as sock:
        return sock.getsockname()[1]
