"""``pixelforge serve`` in its own process for tests and benchmarks: on a free loopback port, ready once
``GET /api/v1/health`` answers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from pixelforge.testing.ports import free_port

# How long a server may take to answer its first health check (it imports the web stack, opens its store).
START_LIMIT_S = 120.0
# How much of the end of the server's log a start-up failure quotes (its traceback, usually).
LOG_TAIL_CHARS = 3000


class ServerDidNotStart(RuntimeError):
    pass


class ServerExited(ServerDidNotStart):
    def __init__(self, returncode: int, log: str) -> None:
        super().__init__(f"pixelforge serve exited ({returncode}) before it answered{log}")
        self.returncode = returncode


def _log_tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return ":\n" + log.read_text(errors="replace")[-LOG_TAIL_CHARS:]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = START_LIMIT_S,
                 log: Path | None = None) -> None:
    """Poll the server's health route until it answers 200: a new process has no other way to say it is up.
    Raises ``ServerExited`` if the process ends first, ``ServerDidNotStart`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerExited(process.returncode, _log_tail(log))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServerDidNotStart(f"pixelforge serve did not answer within {timeout:.0f} s{_log_tail(log)}")
        time.sleep(0.1)


class ServeProcess:
    """``python -m <module> serve --port <free port> --data-dir <data_dir> <options>``, launched, not yet
    waited for. Its stderr (warnings, tracebacks) is appended to ``log`` when given; its stdout (uvicorn's
    access lines) is dropped. ``module`` may be a wrapper of the CLI, such as ``pixelforge.testing.crash``."""

    def __init__(self, data_dir: Path, *options: str, env: Mapping[str, str], log: Path | None = None,
                 module: str = "pixelforge.cli") -> None:
        self.port = free_port()
        self.log = log
        command = [sys.executable, "-m", module, "serve", "--port", str(self.port), "--data-dir", str(data_dir),
                   *options]
        if log is None:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        else:
            with log.open("ab") as stderr:  # the child holds its own copy of the file
                self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = START_LIMIT_S) -> None:
        wait_healthy(self.port, self.process, timeout, self.log)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully, as on Ctrl+C), then wait for the process to exit."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(30)

    def kill(self) -> None:
        """``kill -9``: no shutdown, only what is already durable survives."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


def start_serve(data_dir: Path, *options: str, env: Mapping[str, str], log: Path | None = None,
                timeout: float = START_LIMIT_S) -> ServeProcess:
    """A ``pixelforge serve`` that answers its health check; killed if it does not within ``timeout``."""
    server = ServeProcess(data_dir, *options, env=env, log=log)
    try:
        server.wait_healthy(timeout)
    except ServerDidNotStart:
        server.kill()
        raise
    return server
