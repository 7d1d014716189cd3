"""From what a task asked for to what a model runs: the model's own defaults fill what was left
unset, and a task becomes one model run per job."""

from __future__ import annotations

from pixelforge.backends.base import InitInput, JobRequest, LoadedModel
from pixelforge.backends.presets import ModelPreset
from pixelforge.backends.sizes import native_scale
from pixelforge.pixelart.options import PixelOptions
from pixelforge.tasks.model import ResolvedParams, TaskParams


def pixel_options_for(requested: PixelOptions | None, preset: ModelPreset | None, width: int) -> PixelOptions | None:
    """The pixel-art options a task runs with, or None when the stage is off."""
    if requested is not None:
        return requested if requested.enabled else None
    if preset is not None and preset.pixel_pitch:
        # The preset's nominal pitch is for its default width; it scales with the requested size.
        return PixelOptions(expected_pitch=preset.pixel_pitch * width / preset.width)
    return None


def resolve_params(params: TaskParams, model: LoadedModel) -> ResolvedParams:
    """A model with a native size runs at it, scaled to the size asked for (SizeRefused when none fits)."""
    defaults = model.defaults()
    native = model.preset.native_size if model.preset is not None else None
    if native is not None:
        scale = native_scale(model.name, params.width, params.height, native)
        width, height = native
    else:
        scale, width, height = 1, params.width or defaults.width, params.height or defaults.height
    return ResolvedParams(
        model=model.name,
        steps=params.steps or defaults.steps,
        cfg_scale=params.cfg_scale if params.cfg_scale is not None else defaults.cfg_scale,
        width=width,
        height=height,
        scale=scale,
        seed=params.seed,
        sampler_name=model.sampler_name,
        lora=params.lora,
        lora_scale=params.lora_scale if params.lora else None,
        prompt_used=model.prompt_text(params.prompt),
        pixel=pixel_options_for(params.pixel, model.preset, width),
        denoising_strength=params.img2img.denoising_strength if params.img2img else None,
    )


def job_request(params: TaskParams, resolved: ResolvedParams, job_no: int, init: InitInput | None = None
                ) -> JobRequest:
    """Job ``job_no`` of ``batch_size`` images; image i of the task uses seed + i; an img2img task's jobs all start
    from ``init``. (Made one at a time: a 'generate forever' task has no last job.)"""
    return JobRequest(
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        steps=resolved.steps,
        cfg_scale=resolved.cfg_scale,
        width=resolved.width,
        height=resolved.height,
        seeds=[(resolved.seed + job_no * params.batch_size + i) % 2**32 for i in range(params.batch_size)],
        init=init,
    )
