"""What one hostile request costs the server: a 4 MB ``{"init_images": [0, 0, ...]}`` to img2img and a body
of unknown keys to ``/api/v1/tasks`` (time to the answer, its size, and the slowest health check answered
meanwhile: the event loop is shared), and connections that never finish their headers (how many the
server closed by itself).

Runs a ``pixelforge serve`` in its own process; ``--code DIR`` serves another checkout's pixelforge (to
measure a version before a fix).

    .venv/bin/python benchmarks/hostile_requests.py [--code DIR] [--connections 300]

Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx

from pixelforge.testing.serve_process import start_serve

ROOT = Path(__file__).resolve().parents[1]
# How long the slow-header connections are left to the server before they are counted.
HEADER_WAIT_S = 20.0
# The longest a health check is waited for (a blocked event loop answers nothing).
HEALTH_LIMIT_S = 60.0


def _bodies() -> list[tuple[str, str, bytes]]:
    zeros = b'{"init_images": [' + b",".join([b"0"] * 2_000_000) + b"]}"
    keys = json.dumps({"prompt": "x", **{f"k{i}": 0 for i in range(600_000)}}).encode()
    return [("init_images: 2 M zeros", "/sdapi/v1/img2img", zeros), ("600 k unknown keys", "/api/v1/tasks", keys)]


def _worst_health(url: str, done: threading.Event) -> list[float]:
    """Latencies of back-to-back health checks until ``done``; one unanswered in HEALTH_LIMIT_S counts as that."""
    latencies: list[float] = []
    with httpx.Client(timeout=HEALTH_LIMIT_S) as client:
        while not done.is_set():
            started = time.perf_counter()
            with contextlib.suppress(httpx.TimeoutException):
                client.get(f"{url}/api/v1/health")
            latencies.append(time.perf_counter() - started)
    return latencies


def hostile_body(url: str, path: str, body: bytes) -> tuple[int, int, float, float]:
    done = threading.Event()
    latencies: list[float] = []
    watcher = threading.Thread(target=lambda: latencies.extend(_worst_health(url, done)))
    watcher.start()
    started = time.perf_counter()
    response = httpx.post(f"{url}{path}", content=body, headers={"content-type": "application/json"}, timeout=600)
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    return response.status_code, len(response.content), elapsed, max(latencies, default=0.0)


def slow_headers(port: int, count: int) -> int:
    """Open ``count`` connections that send half a request line; how many the server closed by itself."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n")
        sockets.append(sock)
    deadline = time.monotonic() + HEADER_WAIT_S
    closed = 0
    for sock in sockets:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            while sock.recv(4096):
                pass
            closed += 1
        except TimeoutError:
            pass
        finally:
            sock.close()
    return closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose pixelforge to serve")
    parser.add_argument("--connections", type=int, default=300)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_serve(Path(data_dir), env=env)
        try:
            print("| request | body | status | answer | time to answer | slowest health check meanwhile |")
            print("|---|---|---|---|---|---|")
            for name, path, body in _bodies():
                status, size, elapsed, worst = hostile_body(server.url, path, body)
                health = f"{worst:.3f} s" if worst < HEALTH_LIMIT_S else f"none answered for {HEALTH_LIMIT_S:g} s"
                print(f"| {name} to {path} | {len(body) / 1e6:.1f} MB | {status} | {size:,} B | {elapsed:.3f} s "
                      f"| {health} |")
            closed = slow_headers(server.port, args.connections)
            print(f"\n{args.connections} connections that never finish their headers: {closed} closed by the "
                  f"server within {HEADER_WAIT_S:g} s")
        finally:
            server.kill()


if __name__ == "__main__":
    main()
