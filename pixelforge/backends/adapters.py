"""Per-family knowledge: how to call a pipeline, decode its latents and preview them cheaply."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import torch
from PIL import Image

from pixelforge.backends.base import JobRequest, ModelDefaults
from pixelforge.backends.presets import ModelPreset

# Used when neither the preset nor the pipeline says otherwise.
FALLBACK_DEFAULTS = ModelDefaults(steps=20, cfg_scale=5.0, width=512, height=512)


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


@dataclass
class DiffusersModel:
    """A loaded diffusers pipeline of the Stable-Diffusion kind (UNet or transformer + VAE)."""

    name: str
    pipe: Any
    device: torch.device
    preset: ModelPreset | None = None
    latent_map: str | None = None  # key in latent_rgb_factors.json; None: previews decode with the VAE
    _call_params: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self._call_params = frozenset(inspect.signature(self.pipe.__call__).parameters)

    @property
    def denoiser_name(self) -> str:
        return "transformer" if getattr(self.pipe, "transformer", None) is not None else "unet"

    def defaults(self) -> ModelDefaults:
        if self.preset is not None:
            p = self.preset
            return ModelDefaults(steps=p.steps, cfg_scale=p.cfg_scale, width=p.width, height=p.height)
        sample = getattr(getattr(self.pipe, "unet", None), "config", None)
        scale = getattr(self.pipe, "vae_scale_factor", 8)
        if sample is not None and isinstance(getattr(sample, "sample_size", None), int):
            side = sample.sample_size * scale
            return ModelDefaults(FALLBACK_DEFAULTS.steps, FALLBACK_DEFAULTS.cfg_scale, side, side)
        return FALLBACK_DEFAULTS

    def prompt_text(self, prompt: str) -> str:
        trigger = self.preset.trigger if self.preset else ""
        if trigger and trigger.lower() not in prompt.lower():
            return f"{trigger}, {prompt}" if prompt else trigger
        return prompt

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
        if "negative_prompt" in self._call_params:
            kwargs["negative_prompt"] = job.negative_prompt or None
        if "true_cfg_scale" in self._call_params:
            kwargs["true_cfg_scale"] = job.cfg_scale
        else:
            kwargs["guidance_scale"] = job.cfg_scale
        return kwargs

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        vae = self.pipe.vae
        scaled = latents.to(vae.dtype) / vae.config.scaling_factor
        shift = getattr(vae.config, "shift_factor", None)
        if shift:
            scaled = scaled + shift
        with torch.no_grad():
            image = vae.decode(scaled, return_dict=False)[0]
        return self.pipe.image_processor.postprocess(image, output_type="pil")

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        """The first image's latent as ``(C, H, W)`` in the space the sampler denoises in."""
        return latents[0]

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        rgb_map = latent_rgb_maps().get(self.latent_map) if self.latent_map else None
        if rgb_map is not None:
            spatial = self.spatial_latents(latents[:1], width, height)
            if spatial.shape[0] == rgb_map["channels"]:
                return linear_latent_preview(spatial, rgb_map["factors"], rgb_map["bias"])
        return self.decode(latents[:1], width, height)[0]  # no map for this latent space (e.g. tiny test models)


class FluxModel(DiffusersModel):
    """Flux: 2×2-packed latents; the preview map applies to them unpacked."""

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        return self.pipe._unpack_latents(latents, height, width, self.pipe.vae_scale_factor)[0]


class QwenImageModel(DiffusersModel):
    """Qwen-Image: packed 2×2 latents, a normalised Wan VAE latent space, true CFG."""

    def pipeline_kwargs(self, job: JobRequest) -> dict[str, Any]:
        kwargs = super().pipeline_kwargs(job)
        if job.cfg_scale > 1 and not job.negative_prompt:
            # The pipeline turns true CFG off when there is no negative prompt; " " is Qwen's own default.
            kwargs["negative_prompt"] = " "
        return kwargs

    def _unpack(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        return self.pipe._unpack_latents(latents, height, width, self.pipe.vae_scale_factor)

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        vae = self.pipe.vae
        unpacked = self._unpack(latents, width, height).to(vae.dtype)
        z_dim = vae.config.z_dim
        mean = torch.tensor(vae.config.latents_mean).view(1, z_dim, 1, 1, 1).to(unpacked.device, unpacked.dtype)
        std = torch.tensor(vae.config.latents_std).view(1, z_dim, 1, 1, 1).to(unpacked.device, unpacked.dtype)
        with torch.no_grad():
            image = vae.decode(unpacked * std + mean, return_dict=False)[0][:, :, 0]
        return self.pipe.image_processor.postprocess(image, output_type="pil")

    def spatial_latents(self, latents: torch.Tensor, width: int, height: int) -> torch.Tensor:
        return self._unpack(latents, width, height)[0, :, 0]


class PixelSpaceModel(DiffusersModel):
    """Pipelines that denoise pixels (the bundled sprite model): x0 is the image, nothing to decode."""

    def decode(self, latents: torch.Tensor, width: int, height: int) -> list[Image.Image]:
        return self.pipe.latents_to_images(latents)

    def preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image | None:
        return self.pipe.latents_to_images(latents[:1])[0]


def latent_map_for(pipeline_class: str) -> str | None:
    """Which preview map fits a pipeline's latent space, from its class name (SD 2.x shares SD 1.x's VAE)."""
    if pipeline_class.startswith("QwenImage"):
        return "qwen-image"
    if pipeline_class.startswith("Flux"):
        return "flux"
    if pipeline_class.startswith("StableDiffusionXL"):
        return "sdxl"
    if pipeline_class.startswith("StableDiffusion") and not pipeline_class.startswith("StableDiffusion3"):
        return "sd1"
    return None


def adapter_for(name: str, pipe: Any, device: torch.device, preset: ModelPreset | None) -> DiffusersModel:
    if hasattr(pipe, "latents_to_images"):
        return PixelSpaceModel(name, pipe, device, preset)
    pipeline_class = type(pipe).__name__
    latent_map = latent_map_for(pipeline_class)
    if pipeline_class.startswith("QwenImage"):
        return QwenImageModel(name, pipe, device, preset, latent_map)
    if pipeline_class.startswith("Flux"):
        return FluxModel(name, pipe, device, preset, latent_map)
    return DiffusersModel(name, pipe, device, preset, latent_map)
