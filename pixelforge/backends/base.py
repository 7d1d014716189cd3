"""What the engine needs from a model: load it, run a job under the engine's step control, decode an estimate.

The engine sees a model only through :class:`LoadedModel`: it runs a job with a step callback, hooks its
torch modules for block-level stops, decodes a stopped job's estimate and previews one. How a model does
that (a diffusers pipeline, its callbacks and schedulers) is the adapter's business: ``adapters.py`` for
the diffusers families, which ``families.py`` lists. A backend that is not diffusers is one more class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image

from pixelforge.backends.presets import ModelPreset
from pixelforge.tasks.model import StopRequest
from pixelforge.tasks.progress import steps_that_run


class StopRequested(Exception):
    """Raised inside a model's run to leave it at once; carries the request that caused it."""

    def __init__(self, request: StopRequest) -> None:
        super().__init__(f"{request.action} ({request.reason})")
        self.request = request


class ModelLoadError(RuntimeError):
    """A model or LoRA that exists but could not be loaded; the message is shown to the user."""


class UnsupportedTask(RuntimeError):
    """A model that cannot run this kind of task; the message is shown to the user."""


@dataclass(frozen=True)
class InitInput:
    """img2img: the image every image of the job starts from, at the job's size, and how far it is noised;
    with a mask (white = repaint, same size), inpainting."""

    image: Image.Image
    strength: float
    mask: Image.Image | None = None


@dataclass(frozen=True)
class JobRequest:
    """One model run: ``len(seeds)`` images denoised together."""

    prompt: str
    negative_prompt: str
    steps: int
    cfg_scale: float
    width: int
    height: int
    seeds: list[int]
    init: InitInput | None = None

    @property
    def steps_run(self) -> int:
        """The steps that actually run: all of them, or what an img2img strength leaves."""
        return steps_that_run(self.steps, self.init.strength if self.init else None)


@dataclass(frozen=True)
class ModelDefaults:
    steps: int
    cfg_scale: float
    width: int
    height: int


@dataclass(frozen=True)
class DenoiseStep:
    """What a model reports after each denoising step of a run."""

    index: int  # 0-based: the steps of this run finished before it
    timestep: float
    latents: torch.Tensor  # the sample, in the space :meth:`LoadedModel.decode` takes
    x0: torch.Tensor | None  # the estimate of the finished sample, same space; None when the sampler gives none


# Called after every step; it may raise StopRequested, which leaves the run at once.
OnStep = Callable[[DenoiseStep], None]


class LoadedModel(Protocol):
    name: str
    device: torch.device
    preset: ModelPreset | None
    outputs_1x: bool  # True when each output pixel is one art pixel already (the sprite model)

    @property
    def denoiser_name(self) -> str:
        """The key in :meth:`modules` of the denoiser: its first forward ends the encode phase of a run."""
        ...

    @property
    def sampler_name(self) -> str:
        """The sampler under the name A1111 clients know (``Euler``, ``DPM++ 2M``), else its own name."""
        ...

    def defaults(self) -> ModelDefaults: ...

    def prompt_text(self, prompt: str) -> str:
        """The prompt as the model gets it (with the preset's trigger words)."""
        ...

    def modules(self) -> dict[str, torch.nn.Module]:
        """Every torch module a run may call (text encoders, denoiser, VAE), by name, for the stop hooks;
        the same modules whatever the job (an img2img run shares them)."""
        ...

    def run(self, job: JobRequest, on_step: OnStep) -> list[Image.Image]:
        """The job's images, calling ``on_step`` after every step; a StopRequested raised by ``on_step`` or by a
        hook on one of :meth:`modules` leaves the run at once, with nothing decoded, and is raised again."""
        ...

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        """Images from a step's ``latents`` or ``x0`` (a keep-partial stop)."""
        ...

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        """A cheap picture of the first image's x0 estimate, or None if there is no cheap way."""
        ...


class Backend(Protocol):
    device: torch.device  # where it loads models (what the stats and the worker's info report)

    def load(self, model: str, lora: str | None, lora_scale: float) -> LoadedModel: ...

    def release(self) -> None:
        """Free what a stopped or failed task left behind (gc, CUDA cache)."""
        ...
