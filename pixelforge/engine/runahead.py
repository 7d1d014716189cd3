"""Bounded CUDA run-ahead: keep the CPU at most ``k`` blocks ahead of the GPU.

PyTorch launches CUDA kernels asynchronously, so by the time a block's Python pre-hook sees a stop
the CPU may have queued many blocks the GPU has not run yet, and the stop still waits for them to
drain. Measured on an H100 with the real Qwen-Image-2512 transformer (60 blocks, 5.8 ms each at
1328²; ``benchmarks/gpu_stop.py`` measures the same): block hooks alone stop in 60 ms p50 (the drain); waiting, before
launching block ``i``, for an event recorded when block ``i - k`` was launched brings that to
9.2 ms p50 / 11.3 ms max for ``k = 1`` at a throughput cost of 0.3 %: one block still runs on the
GPU while the CPU launches the next, so the GPU never starves.

The window bookkeeping is a pure class (:class:`RunAheadWindow`) so that it is tested without a
GPU; :class:`CudaRunAhead` is the only place that touches CUDA events. On CPU (and MPS) kernels run
synchronously or are not ours to bound: nothing is created there.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import torch

Marker = TypeVar("Marker")


class RunAheadWindow(Generic[Marker]):
    """The markers of the last ``k`` launched blocks, oldest first.

    Before launching a block, :meth:`due` gives the marker to wait for (the one recorded ``k``
    blocks back) once ``k`` blocks are in flight, else None; after the wait, :meth:`push` adds the
    new block's marker. ``k = 0`` means unbounded: nothing is ever kept or waited for.
    """

    def __init__(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"run-ahead must be >= 0 blocks, got {k}")
        self.k = k
        self._markers: deque[Marker] = deque()

    def due(self) -> Marker | None:
        if self.k and len(self._markers) >= self.k:
            return self._markers.popleft()
        return None

    def push(self, marker: Marker) -> None:
        if self.k:
            self._markers.append(marker)

    def clear(self) -> None:
        self._markers.clear()

    def __len__(self) -> int:
        return len(self._markers)


class CudaRunAhead:
    """One CUDA event per launched block; waits on the event ``k`` blocks back before the next launch."""

    def __init__(self, k: int) -> None:
        self._window: RunAheadWindow[torch.cuda.Event] = RunAheadWindow(k)

    @property
    def k(self) -> int:
        return self._window.k

    def wait(self) -> torch.cuda.Event | None:
        """Block the CPU until the GPU has reached the block launched ``k`` blocks ago.

        Returns that (now completed) event so that :meth:`mark` can re-record it instead of
        allocating a new one: at most ``k`` events exist per task.
        """
        event = self._window.due()
        if event is not None:
            event.synchronize()  # releases the GIL while it waits
        return event

    def mark(self, reuse: torch.cuda.Event | None = None) -> None:
        """Record, on the current stream, the point where the next block is about to be launched."""
        event = reuse if reuse is not None else torch.cuda.Event()
        event.record()
        self._window.push(event)

    def reset(self) -> None:
        self._window.clear()


def module_on_cuda(module: torch.nn.Module) -> bool:
    """Whether the module's weights are on a CUDA device now.

    Asked per call, not once per task: with model CPU offload a component is moved to the GPU by
    accelerate's hook just before its forward, after the stop hooks were installed.
    """
    parameter = next(module.parameters(), None)
    return parameter is not None and parameter.is_cuda
