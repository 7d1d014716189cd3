"""The diffusers models: a loaded pipeline behind the engine's ``LoadedModel``, and per family how to call it,
decode its latents and preview them cheaply.

Everything diffusers-shaped the engine needs stays here: the pipeline call with its
``callback_on_step_end``, the ``_interrupt`` flag, ``maybe_free_model_hooks`` after a run, the x0 estimate
from the scheduler (``x0.py``), the img2img / inpainting siblings and the sampler's name.
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixelforge.backends.base import DenoiseStep, JobRequest, ModelDefaults, OnStep, StopRequested, UnsupportedTask
from pixelforge.backends.families import GENERIC, ModelFamily, family_of
from pixelforge.backends.presets import ModelPreset
from pixelforge.backends.sprite.pipeline import DEFAULT_MAX_COLORS
from pixelforge.backends.x0 import X0Tracker

log = logging.getLogger(__name__)

# Used when neither the preset nor the pipeline says otherwise.
FALLBACK_DEFAULTS = ModelDefaults(steps=20, cfg_scale=5.0, width=512, height=512)

# Side of the random latent a preview map is fitted on when no published map fits: 256 samples for
# C + 1 unknowns per colour, from one small decode.
FIT_SIDE = 16


# diffusers scheduler classes under the names A1111 clients know.
SAMPLER_NAMES = {
    "FlowMatchEulerDiscreteScheduler": "Euler",
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DDIMScheduler": "DDIM",
    "UniPCMultistepScheduler": "UniPC",
}


def step_callback(on_step: OnStep, x0: X0Tracker | None) -> Any:
    """``on_step`` as a pipeline's ``callback_on_step_end`` (with ``callback_on_step_end_tensor_inputs=["latents"]``).

    On a stop it sets ``pipe._interrupt`` as diffusers expects *and* lets StopRequested through, because
    diffusers' loop only ``continue``s on ``_interrupt`` and then still runs the VAE decode of an image
    nobody wants.
    """

    def callback(pipe: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            estimate = x0.latest if x0 is not None else None
            on_step(DenoiseStep(step_index, float(timestep), callback_kwargs["latents"], estimate))
        except StopRequested:
            pipe._interrupt = True
            raise
        return callback_kwargs

    return callback


def free_model_hooks(pipe: Any) -> None:
    """What a pipeline does at the end of its own call: offloaded modules go back to the CPU (a no-op without
    offload); a run that was stopped, or a decode outside a run, does it here."""
    maybe_free = getattr(pipe, "maybe_free_model_hooks", None)
    if maybe_free is not None:
        maybe_free()


@cache
def latent_rgb_maps() -> dict[str, Any]:
    text = (resources.files("pixelforge.backends") / "data" / "latent_rgb_factors.json").read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def linear_latent_preview(
    latents: torch.Tensor, factors: list[list[float]], bias: list[float] | None = None
) -> Image.Image:
    """RGB preview of one latent ``(C, H, W)`` through a linear ``C -> 3`` map; no VAE involved."""
    weight = torch.tensor(factors, dtype=torch.float32, device=latents.device)
    rgb = torch.einsum("chw,cr->rhw", latents.float(), weight)
    if bias is not None:
        rgb = rgb + torch.tensor(bias, dtype=torch.float32, device=latents.device).view(3, 1, 1)
    pixels = ((rgb + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(pixels, "RGB")


def fit_linear_latent_map(latents: torch.Tensor, image: Image.Image) -> dict[str, Any]:
    """Least-squares ``C -> RGB`` map with bias from one latent ``(C, h, w)`` and its decoded image.

    The published maps were made the same way (a regression of decoded pixels on latents); this
    gives any other latent space a preview of the same kind, in the same format as the JSON data.
    """
    channels, height, width = latents.shape
    small = np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BOX), dtype=np.float32)
    target = torch.from_numpy(small).reshape(-1, 3) / 127.5 - 1
    inputs = torch.cat([latents.detach().float().cpu().reshape(channels, -1).T, torch.ones(height * width, 1)], 1)
    solution = torch.linalg.lstsq(inputs, target).solution
    return {"channels": channels, "factors": solution[:channels].tolist(), "bias": solution[channels].tolist()}


@dataclass
class DiffusersModel:
    """A loaded diffusers pipeline of the Stable-Diffusion kind (UNet or transformer + VAE)."""

    name: str
    pipe: Any
    device: torch.device
    preset: ModelPreset | None = None
    family: ModelFamily = GENERIC  # its row in families.py: preview map, img2img siblings
    rgb_map: dict[str, Any] | None = field(init=False, default=None)  # what previews use
    _call_params: frozenset[str] = field(init=False)
    _siblings: dict[str, Any] = field(init=False, default_factory=dict)  # img2img / inpaint pipelines
    _last_run: Any = field(init=False, default=None)  # the pipeline of the last run: a decode after it frees it

    def __post_init__(self) -> None:
        self._call_params = frozenset(inspect.signature(self.pipe.__call__).parameters)
        latent_map = self.family.latent_map
        self.rgb_map = latent_rgb_maps().get(latent_map) if latent_map else None
        self._last_run = self.pipe

    # A latent model paints "fake" pixel art: each art pixel spans many output pixels.
    outputs_1x = False

    @property
    def denoiser_name(self) -> str:
        return "transformer" if getattr(self.pipe, "transformer", None) is not None else "unet"

    @property
    def sampler_name(self) -> str:
        scheduler = type(self.pipe.scheduler).__name__
        return SAMPLER_NAMES.get(scheduler, scheduler)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {name: module for name, module in self.pipe.components.items() if isinstance(module, torch.nn.Module)}

    def run(self, job: JobRequest, on_step: OnStep) -> list[Image.Image]:
        """One call of the job's pipeline; the x0 tracker, the interrupt flag and the offload hooks are undone
        whatever happens (a stopped run never reaches the pipeline's own clean-up)."""
        pipe = self._last_run = self.pipeline_for(job)
        x0 = X0Tracker(self.pipe.scheduler)  # the siblings share it
        try:
            kwargs = self.pipeline_kwargs(job) | {
                "callback_on_step_end": step_callback(on_step, x0),
                "callback_on_step_end_tensor_inputs": ["latents"],
            }
            with torch.inference_mode():
                images: list[Image.Image] = pipe(**kwargs).images
                return images
        finally:
            x0.remove()
            pipe._interrupt = False
            free_model_hooks(pipe)

    def defaults(self) -> ModelDefaults:
        if self.preset is not None:
            p = self.preset
            return ModelDefaults(steps=p.steps, cfg_scale=p.cfg_scale, width=p.width, height=p.height)
        sample = getattr(getattr(self.pipe, "unet", None), "config", None)
        if sample is not None and isinstance(getattr(sample, "sample_size", None), int):
            side = sample.sample_size * self.pixels_per_sample
            return ModelDefaults(FALLBACK_DEFAULTS.steps, FALLBACK_DEFAULTS.cfg_scale, side, side)
        return FALLBACK_DEFAULTS

    @property
    def pixels_per_sample(self) -> int:
        """Image pixels per element of the UNet's sample, along a side: the VAE's downscaling."""
        return getattr(self.pipe, "vae_scale_factor", 8)

    def prompt_text(self, prompt: str) -> str:
        trigger = self.preset.trigger if self.preset else ""
        if trigger and trigger.lower() not in prompt.lower():
            return f"{trigger}, {prompt}" if prompt else trigger
        return prompt

    def pipeline_for(self, job: JobRequest) -> Any:
        """diffusers' img2img or inpainting pipeline of the same family (QwenImageImg2ImgPipeline for
        Qwen-Image, ...), made once with ``from_pipe``: it holds the very same modules, so no weight is
        loaded or copied again, and LoRAs and stop hooks on those modules apply to it too. A family whose
        pipeline takes the image and mask itself runs them all."""
        if job.init is None or self.family.siblings == "own":
            return self.pipe
        kind = "inpaint" if job.init.mask is not None else "img2img"
        if kind not in self._siblings:
            from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

            auto = AutoPipelineForInpainting if kind == "inpaint" else AutoPipelineForImage2Image
            try:
                sibling = auto.from_pipe(self.pipe)
            except (ValueError, KeyError) as exc:
                raise UnsupportedTask(f"{type(self.pipe).__name__} has no {kind} pipeline in diffusers") from exc
            sibling.set_progress_bar_config(disable=True)
            self._siblings[kind] = sibling
        return self._siblings[kind]

    def pipeline_kwargs(self, job: JobRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "prompt": self.prompt_text(job.prompt),
            "num_inference_steps": job.steps,
            "height": job.height,
            "width": job.width,
            "num_images_per_prompt": len(job.seeds),
            # CPU generators give the same image on every device; one per image so that image i of a
            # batch is reproducible alone with seed + i (as A1111 does).
            "generator": [torch.Generator("cpu").manual_seed(seed) for seed in job.seeds],
            "output_type": "pil",
        }
        if job.init is not None:
            kwargs.update(image=job.init.image, strength=job.init.strength)
            if job.init.mask is not None:
                kwargs["mask_image"] = job.init.mask
        if "negative_prompt" in self._call_params:
            kwargs["negative_prompt"] = job.negative_prompt or None
        if "true_cfg_scale" in self._call_params:
            kwargs["true_cfg_scale"] = job.cfg_scale
        else:
            kwargs["guidance_scale"] = job.cfg_scale
        return kwargs

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        """A stopped run's kept images, after which its offloaded modules go back as the run's own end does."""
        images = self._decode(latents, width, height)
        free_model_hooks(self._last_run)  # the decode of a stopped run ends as that run would have
        return images

    def _decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        """The decode alone, freeing nothing: also what a fallback preview (on the encoder thread, while a run may
        go on) and the preview map's fit use."""
        vae = self.pipe.vae
        scaled = latents.to(vae.dtype) / vae.config.scaling_factor
        shift = getattr(vae.config, "shift_factor", None)
        if shift:
            scaled = scaled + shift
        with torch.no_grad():
            image = vae.decode(scaled, return_dict=False)[0]
        images: list[Image.Image] = self.pipe.image_processor.postprocess(image, output_type="pil")
        return images

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        """The first image's latent as ``(C, H, W)`` in the space the sampler denoises in."""
        return latents[0]

    def packed_latents(self, spatial: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`spatial_latents` for one ``(C, H, W)`` latent: what :meth:`decode` takes."""
        return spatial[None]

    def latent_channels(self) -> int | None:
        config = self.pipe.vae.config
        return getattr(config, "latent_channels", None) or getattr(config, "z_dim", None)

    def prepare_previews(self) -> None:
        """At load, on the worker thread: fit a preview map when no published one fits this latent space.

        Otherwise every preview would be a VAE decode on the encoder thread: as costly as the final
        decode, and racing it (the Wan VAE of Qwen-Image keeps a feature cache on the module).
        """
        channels = self.latent_channels()
        if channels is None or (self.rgb_map is not None and self.rgb_map["channels"] == channels):
            return
        side = FIT_SIDE
        spatial = torch.randn(channels, side, side, generator=torch.Generator().manual_seed(0))
        spatial = spatial.to(self.device, self.pipe.vae.dtype)
        scale = self.pipe.vae_scale_factor
        with torch.inference_mode():
            image = self._decode(self.packed_latents(spatial), side * scale, side * scale)[0]
        self.rgb_map = fit_linear_latent_map(spatial, image)

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        spatial = self.spatial_latents(latents[:1], width, height)
        if self.rgb_map is not None and spatial.shape[0] == self.rgb_map["channels"]:
            return linear_latent_preview(spatial, self.rgb_map["factors"], self.rgb_map["bias"])
        return self._decode(latents[:1], width, height)[0]  # no map could be fitted: the costly way


class FluxModel(DiffusersModel):
    """Flux: 2×2-packed latents; the preview map applies to them unpacked."""

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        spatial: torch.Tensor = self.pipe._unpack_latents(latents, height, width, self.pipe.vae_scale_factor)[0]
        return spatial

    def packed_latents(self, spatial: torch.Tensor) -> torch.Tensor:
        channels, height, width = spatial.shape
        packed: torch.Tensor = self.pipe._pack_latents(spatial[None], 1, channels, height, width)
        return packed


class QwenImageModel(DiffusersModel):
    """Qwen-Image: packed 2×2 latents, a normalised Wan VAE latent space, true CFG."""

    def pipeline_kwargs(self, job: JobRequest) -> dict[str, Any]:
        kwargs = super().pipeline_kwargs(job)
        if job.cfg_scale > 1 and not job.negative_prompt:
            # The pipeline turns true CFG off when there is no negative prompt; " " is Qwen's own default.
            kwargs["negative_prompt"] = " "
        return kwargs

    def _unpack(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        unpacked: torch.Tensor = self.pipe._unpack_latents(latents, height, width, self.pipe.vae_scale_factor)
        return unpacked

    def _decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        vae = self.pipe.vae
        unpacked = self._unpack(latents, width, height).to(vae.dtype)
        z_dim = vae.config.z_dim
        mean = torch.tensor(vae.config.latents_mean).view(1, z_dim, 1, 1, 1).to(unpacked.device, unpacked.dtype)
        std = torch.tensor(vae.config.latents_std).view(1, z_dim, 1, 1, 1).to(unpacked.device, unpacked.dtype)
        with torch.no_grad():
            image = vae.decode(unpacked * std + mean, return_dict=False)[0][:, :, 0]
        images: list[Image.Image] = self.pipe.image_processor.postprocess(image, output_type="pil")
        return images

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        return self._unpack(latents, width, height)[0, :, 0]

    def packed_latents(self, spatial: torch.Tensor) -> torch.Tensor:
        channels, height, width = spatial.shape
        packed: torch.Tensor = self.pipe._pack_latents(spatial[None], 1, channels, height, width)
        return packed


class PixelSpaceModel(DiffusersModel):
    """Pipelines that denoise pixels (the bundled sprite model): x0 is the image, nothing to decode."""

    outputs_1x = True
    pixels_per_sample = 1  # no VAE: the UNet's sample is the image

    def prepare_previews(self) -> None:
        """Nothing to fit: x0 is the image."""

    def _decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        # A kept partial image is a finished sprite too: the same colour limit as the pipeline's own output.
        images: list[Image.Image] = self.pipe.latents_to_images(latents, max_colors=DEFAULT_MAX_COLORS)
        return images

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        first: Image.Image = self.pipe.latents_to_images(latents[:1])[0]
        return first


def adapter_for(name: str, pipe: Any, device: torch.device, preset: ModelPreset | None) -> DiffusersModel:
    """The loaded pipeline behind the adapter its family's row names."""
    family = family_of(type(pipe).__name__)
    model: DiffusersModel = family.adapter_class()(name, pipe, device, preset, family)
    try:
        model.prepare_previews()
    except Exception:  # previews are a nicety: a model must load even if its VAE cannot be probed
        log.warning("could not fit a preview map for %s; previews will decode with the VAE", name, exc_info=True)
    return model
