"""Stopping a generation: the step control the model calls, driven by the task's StopToken.

Three levels, all driven by the task's own token (never a process-global flag):

1. ``StepControl`` is the model's ``on_step`` (``LoadedModel.run``). After each step it times the
   step, reports progress and applies the early-stop rule (a timeout interrupts the token itself,
   from a timer in ``runner.py``). On a stop it raises :class:`StopRequested`, which leaves the
   model's run at once, before any decode of an image nobody wants.
2. Forward pre-hooks on the repeated blocks of every module of the model (text encoder layers,
   denoiser blocks, VAE blocks) raise inside a step, so a stop never waits for a whole step.
3. On CUDA the same hooks bound how far the CPU runs ahead of the GPU (``runahead.py``), so the
   stop is not followed by a drain of already-queued blocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from pixelforge.backends.base import DenoiseStep, StopRequested
from pixelforge.engine.runahead import CudaRunAhead, module_on_cuda
from pixelforge.tasks.model import Phase
from pixelforge.tasks.progress import ProgressTracker
from pixelforge.tasks.stop import StopToken

__all__ = ["EarlyStop", "EarlyStopRule", "StepControl", "StepInfo", "StopHooks", "StopRequested", "StopToken"]

log = logging.getLogger("pixelforge.steps")


@dataclass
class StepInfo:
    """What an early-stop rule, a debug logger or a progress callback sees after each step."""

    step: int  # 1-based: steps finished in this job
    steps: int
    timestep: float
    latents: torch.Tensor
    x0: torch.Tensor | None
    duration_s: float
    job_no: int


@dataclass
class EarlyStop:
    """What an early-stop rule returns to stop the task.

    ``latents`` lets a quality-aware rule hand back the best latents it has seen: they are decoded
    instead of the current estimate (requires ``keep_partial``).
    """

    reason: str = "early-stop"
    keep_partial: bool = True
    latents: torch.Tensor | None = None


EarlyStopRule = Callable[[StepInfo], "EarlyStop | bool | None"]


@dataclass
class StepControl:
    """The ``on_step`` of one job.

    ``tracker`` is the task's progress tracker: its ``phase`` is the one record of where the job is
    (encode, denoise, decode), read here to decide whether a keep-partial stop lets a decode finish.
    """

    token: StopToken
    steps: int
    job_no: int = 0
    tracker: ProgressTracker | None = None
    on_step: Callable[[StepInfo], None] | None = None
    early_stop: EarlyStopRule | None = None
    debug: bool = False
    last_latents: torch.Tensor | None = None
    last_x0: torch.Tensor | None = None
    replacement_latents: torch.Tensor | None = None
    _mark: float = field(default_factory=time.perf_counter)
    calls: int = 0
    denoise_started: float | None = None
    last_step_end: float | None = None

    def __post_init__(self) -> None:
        if self.tracker is None:
            self.tracker = ProgressTracker(job_count=1, steps=self.steps)
        self.tracker.start_job(self.job_no)

    @property
    def phase(self) -> Phase:
        assert self.tracker is not None
        return self.tracker.phase

    def enter(self, phase: Phase) -> None:
        assert self.tracker is not None
        self.tracker.phase = phase

    def begin_denoise(self) -> None:
        """Called by the first forward of the denoiser: encoding is over, step timing starts."""
        if self.phase is Phase.ENCODE:
            self.enter(Phase.DENOISE)
            self._mark = self.denoise_started = time.perf_counter()

    def __call__(self, step: DenoiseStep) -> None:
        now = time.perf_counter()
        duration, self._mark, self.last_step_end = now - self._mark, now, now
        self.calls += 1
        self.last_latents, self.last_x0 = step.latents, step.x0
        info = StepInfo(
            step=step.index + 1,
            steps=self.steps,
            timestep=step.timestep,
            latents=step.latents,
            x0=step.x0,
            duration_s=duration,
            job_no=self.job_no,
        )
        if self.debug:
            self._log(info)
        assert self.tracker is not None
        self.tracker.record_step(info.step, info.duration_s)
        if info.step >= self.steps:
            # The image is complete: what runs after this callback is its decode (which a keep-partial
            # stop lets finish, see raise_if_stopped).
            self.enter(Phase.DECODE)
        if self.on_step is not None:
            self.on_step(info)
        self._apply_early_stop(info)
        self.raise_if_stopped()

    def _apply_early_stop(self, info: StepInfo) -> None:
        if self.early_stop is not None and self.token.pending is None:
            verdict = self.early_stop(info)
            if isinstance(verdict, EarlyStop):
                self.replacement_latents = verdict.latents
                self.token.interrupt(keep_partial=verdict.keep_partial, reason=verdict.reason)
            elif verdict:
                self.token.interrupt(keep_partial=True, reason="early-stop")

    def raise_if_stopped(self) -> None:
        request = self.token.pending
        if request is None:
            return
        if request.keep_partial and self.phase is Phase.DECODE:
            return  # the image is being decoded anyway: keeping it means letting the decode finish
        raise StopRequested(request)

    def _log(self, info: StepInfo) -> None:
        latents = info.latents
        shape = tuple(latents.shape) if latents is not None else None
        value_range = (float(latents.min()), float(latents.max())) if latents is not None else None
        log.info(
            "step %d/%d job %d t=%.3f dt=%.4fs latents shape=%s range=%s stop=%s calls=%d",
            info.step,
            info.steps,
            info.job_no,
            info.timestep,
            info.duration_s,
            shape,
            value_range,
            self.token.pending,
            self.calls,
        )


# How deep below a component ``repeated_blocks`` looks for block lists. Three levels reach the text
# encoders' layers (Qwen2.5-VL ``model.language_model.layers``, CLIP ``text_model.encoder.layers``)
# without wandering into the small lists inside a block (an attention's ``to_out``).
BLOCK_SEARCH_DEPTH = 3


def repeated_blocks(module: torch.nn.Module, max_depth: int = BLOCK_SEARCH_DEPTH) -> list[torch.nn.Module]:
    """The members of the outermost ``ModuleList``s at most ``max_depth`` levels under ``module``.

    That finds QwenImage/Flux ``transformer_blocks``, UNet ``down_blocks``/``up_blocks`` and the
    mid block's ``resnets``/``attentions``, text encoder ``layers`` and VAE ``down_blocks``/
    ``up_blocks`` without naming them, so any model gets block-level stops. A list's
    members are not searched further: a block is the unit of work, and a hook costs a Python call.
    """
    blocks: list[torch.nn.Module] = []

    def visit(parent: torch.nn.Module, depth: int) -> None:
        for child in parent.children():
            if isinstance(child, torch.nn.ModuleList):
                blocks.extend(child)
            elif depth < max_depth:
                visit(child, depth + 1)

    visit(module, 1)
    return blocks


class StopHooks:
    """Forward pre-hooks that raise StopRequested inside a step and bound CUDA run-ahead.

    ``runahead_blocks`` is ``Settings.runahead_blocks``: before each block on a CUDA device the hook
    waits until the GPU has reached the block launched that many blocks earlier (0 = unbounded).
    Only the thread that installed the hooks (the worker's) takes part in the window: a preview
    rendered on the encoder thread may run a VAE through these blocks too, and must neither wait
    on nor reorder the denoiser's events. Everything is undone by ``remove()``.
    """

    def __init__(self, runahead_blocks: int = 1) -> None:
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        cuda = runahead_blocks > 0 and torch.cuda.is_available()
        self._runahead = CudaRunAhead(runahead_blocks) if cuda else None

    def install(self, modules: Mapping[str, torch.nn.Module], control: StepControl, denoiser_name: str | None) -> None:
        runahead = self._runahead
        owner = threading.get_ident()

        def check(_module: torch.nn.Module, _args: Any) -> None:
            control.raise_if_stopped()

        def denoiser_entry(_module: torch.nn.Module, _args: Any) -> None:
            control.begin_denoise()
            control.raise_if_stopped()

        def block(module: torch.nn.Module, _args: Any) -> None:
            if runahead is None or threading.get_ident() != owner or not module_on_cuda(module):
                control.raise_if_stopped()
                return
            # Wait first, then look at the token: a stop set during the wait is seen before this
            # block is launched, and the GPU has at most the previous k blocks left to run.
            completed = runahead.wait()
            control.raise_if_stopped()
            runahead.mark(reuse=completed)

        for name, module in modules.items():
            entry = denoiser_entry if name == denoiser_name else check
            self._handles.append(module.register_forward_pre_hook(entry))
            for member in repeated_blocks(module):
                self._handles.append(member.register_forward_pre_hook(block))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._runahead is not None:
            self._runahead.reset()
