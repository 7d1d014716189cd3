"""Performance statistics of one task: wall time per phase, peak VRAM and peak RAM."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from pixelforge.procmem import peak_rss_mb, reset_peak_rss
from pixelforge.tasks.model import Phase, TaskStats


class StatsRecorder:
    """Times phases (they may repeat: one encode/denoise/decode per job) and reads peak memory."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.phases: dict[str, float] = {}
        self._started = time.perf_counter()
        self._cuda = device.type == "cuda"
        reset_peak_rss()
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
            peak_rss_mb=round(peak_rss_mb(), 1),
        )
        if self._cuda:
            stats.peak_vram_allocated_mb = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
            stats.peak_vram_reserved_mb = round(torch.cuda.max_memory_reserved(self.device) / 2**20, 1)
        return stats
