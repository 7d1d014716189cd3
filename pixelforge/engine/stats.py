"""Performance statistics of one task: wall time per phase, peak VRAM and peak RAM."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from pixelforge.tasks.model import Phase, TaskStats

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _reset_peak_rss() -> bool:
    """Linux lets a process reset its own high-water mark (VmHWM) by writing 5 to clear_refs."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmHWM`` peak, ``VmRSS`` current) in MiB; None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max_rss / (1024 * 1024) if sys.platform == "darwin" else max_rss / 1024


def current_rss_mb() -> float:
    current = _status_mb("VmRSS")
    return current if current is not None else _peak_rss_mb()


class StatsRecorder:
    """Times phases (they may repeat: one encode/denoise/decode per job) and reads peak memory."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.phases: dict[str, float] = {}
        self._started = time.perf_counter()
        self._cuda = device.type == "cuda"
        _reset_peak_rss()
        if self._cuda:
            torch.cuda.reset_peak_memory_stats(device)

    def add(self, phase: Phase, seconds: float) -> None:
        self.phases[phase.value] = self.phases.get(phase.value, 0.0) + seconds

    @contextmanager
    def timed(self, phase: Phase) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - start)

    def finish(self, step_durations: list[float]) -> TaskStats:
        stats = TaskStats(
            device=str(self.device),
            total_s=time.perf_counter() - self._started,
            phases_s={k: round(v, 4) for k, v in self.phases.items()},
            steps_run=len(step_durations),
            step_time_s=statistics.median(step_durations) if step_durations else None,
            peak_rss_mb=round(_peak_rss_mb(), 1),
        )
        if self._cuda:
            stats.peak_vram_allocated_mb = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
            stats.peak_vram_reserved_mb = round(torch.cuda.max_memory_reserved(self.device) / 2**20, 1)
        return stats
