"""One process per data dir: an exclusive ``flock`` on ``<data dir>/pixelforge.lock``, which names its holder.

Two processes on one SQLite data dir corrupt each other's live tasks: the second one's restart recovery ends
the first one's running task as if the server had stopped. So whoever opens the store (``pixelforge serve``,
the Python API, a CLI run in this process) holds this lock for as long as the store is open; the kernel
drops it when the process dies, so a crash never leaves a stale lock behind. The file's content (pid, and
the URL when the holder is a server) lets the second process say who holds it, and lets the Python API
attach to that server instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

LOCK_NAME = "pixelforge.lock"


class LockHolder(BaseModel):
    pid: int
    url: str | None = None

    def describe(self) -> str:
        return f"the pixelforge server at {self.url} (pid {self.pid})" if self.url else f"pixelforge pid {self.pid}"


class DataDirInUse(Exception):
    """Another process holds the data dir: one line saying which, and what to do."""

    def __init__(self, data_dir: Path, holder: LockHolder | None) -> None:
        self.data_dir = data_dir
        self.holder = holder
        who = holder.describe() if holder is not None else "another pixelforge process"
        super().__init__(
            f"the data dir {data_dir} is in use by {who}; stop it, or use another data dir "
            "(--data-dir or PIXELFORGE_DATA_DIR)"
        )


class DataDirLock:
    """Held from :meth:`acquire` to :meth:`release` (or the end of the process)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, url: str | None = None) -> None:
        """Take the lock and write this process's pid (and the URL it serves at); DataDirInUse when taken."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirInUse(self.data_dir, read_holder(self.path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, LockHolder(pid=os.getpid(), url=url).model_dump_json().encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # an old holder's pid must never be read as the next one's
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def read_holder(path: Path) -> LockHolder | None:
    """Who the lock file names; None while the holder has not written it yet (or never will)."""
    try:
        return LockHolder.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
