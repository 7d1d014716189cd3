"""What the engine needs from a model: load it, turn a job into pipeline arguments, decode an estimate.

Every model runs as a diffusers pipeline (the bundled sprite model is one too), so the engine
drives them all the same way; only what differs per pipeline family lives in an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from PIL import Image

from pixelforge.backends.presets import ModelPreset
from pixelforge.tasks.progress import steps_that_run


@dataclass(frozen=True)
class InitInput:
    """img2img: the image every image of the job starts from, at the job's size, and how far it is noised;
    with a mask (white = repaint, same size), inpainting."""

    image: Image.Image
    strength: float
    mask: Image.Image | None = None


@dataclass(frozen=True)
class JobRequest:
    """One pipeline call: ``len(seeds)`` images denoised together."""

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


class LoadedModel(Protocol):
    name: str
    pipe: Any
    device: torch.device
    preset: ModelPreset | None
    denoiser_name: str
    outputs_1x: bool  # True when each output pixel is one art pixel already (the sprite model)

    def defaults(self) -> ModelDefaults: ...

    def prompt_text(self, prompt: str) -> str:
        """The prompt as sent to the pipeline (with the preset's trigger words)."""
        ...

    def pipeline_for(self, job: JobRequest) -> Any:
        """The pipeline that runs ``job``: ``pipe``, or its img2img / inpainting sibling sharing its modules."""
        ...

    def pipeline_kwargs(self, job: JobRequest) -> dict[str, Any]:
        """Arguments for that pipeline's call except the callback, which the engine adds."""
        ...

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        """Images from latents in the pipeline's denoising space (a keep-partial stop)."""
        ...

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        """A cheap picture of the first image's x0 estimate, or None if there is no cheap way."""
        ...


class Backend(Protocol):
    def load(self, model: str, lora: str | None, lora_scale: float) -> LoadedModel: ...

    def release(self) -> None:
        """Free what a stopped or failed task left behind (gc, CUDA cache)."""
        ...
