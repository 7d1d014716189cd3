"""Memory figures of this process and this machine from /proc (Linux), with portable fallbacks.

Torch-free, so the engine's statistics and the server's A1111 `/sdapi/v1/memory` read them from one place.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
_MEMINFO = Path("/proc/meminfo")


def reset_peak_rss() -> bool:
    """Linux lets a process reset its own high-water mark (VmHWM) by writing 5 to clear_refs."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _field_mb(path: Path, field: str) -> float | None:
    """A ``Name: N kB`` line of a /proc file in MiB; None where the file or the line is missing."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mb() -> float:
    peak = _field_mb(_STATUS, "VmHWM")
    if peak is not None:
        return peak
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max_rss / (1024 * 1024) if sys.platform == "darwin" else max_rss / 1024


def current_rss_mb() -> float:
    current = _field_mb(_STATUS, "VmRSS")
    return current if current is not None else peak_rss_mb()


def machine_memory_mb() -> tuple[float, float] | None:
    """(total, available) RAM of the machine in MiB; None off Linux."""
    total, available = _field_mb(_MEMINFO, "MemTotal"), _field_mb(_MEMINFO, "MemAvailable")
    return (total, available) if total is not None and available is not None else None
