"""A full disk for the storage-fault tests: one file that takes every byte a (small tmpfs) folder has left."""

from __future__ import annotations

import errno
from pathlib import Path


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it (delete it to free the disk)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler
