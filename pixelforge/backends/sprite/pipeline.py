"""SpritePipeline: text to 32×32 RGBA sprites with a pixel-space UNet, driven like any diffusers pipeline.

The denoiser works on RGBA pixels in [-1, 1] directly (no VAE), so the current sample — or its x0
estimate — is already the picture. The solver is `FlowMatchEulerDiscreteScheduler`, the same one
Qwen-Image uses, on purpose: the UNet predicts the flow velocity v = noise - x0, so the engine computes
the preview for both models with one formula, `x0 = sample - sigma * v`, where `sample`, `v` and the timestep
`t` are the arguments of `scheduler.step` and `sigma = t / num_train_timesteps` (this scheduler's timesteps
are its sigmas times that, shift included). At the last step the sample lands exactly on that estimate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch

# From the modules that define them: the type checker reads ``from diffusers import ...`` as diffusers' placeholders
# for a machine without torch.
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from diffusers.utils.outputs import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ...pixelart.quantize import adaptive_palette, count_colors, map_to_palette
from ...tasks.progress import steps_that_run
from .inputs import ImageInput, image_samples, mask_samples
from .styles import pick_style
from .text_encoder import SpriteTextEncoder
from .tokenizer import SpriteTokenizer

Generator = torch.Generator | list[torch.Generator] | None
# A finished sprite is pixel art: at most this many colours, picked per sprite (previews are not limited).
DEFAULT_MAX_COLORS = 16


@dataclass
class SpritePipelineOutput(BaseOutput):
    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor


@dataclass(frozen=True)
class KnownPixels:
    """Inpainting: the input's uint8 pixels (B, H, W, 4) and where they are kept (B, H, W, 1 bool)."""

    pixels: np.ndarray
    where: np.ndarray


def to_uint8_rgba(samples: torch.Tensor) -> np.ndarray:
    """(B, 4, H, W) in [-1, 1] → (B, H, W, 4) uint8 with binary alpha; transparent pixels are (0, 0, 0, 0).

    The training sprites have exactly these properties, so an output can be compared with them pixel for
    pixel and exported as true pixel art without another clean-up pass.
    """
    pixels = ((samples.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    array = pixels.permute(0, 2, 3, 1).cpu().numpy().copy()
    opaque = array[..., 3] >= 128
    array[..., 3] = np.where(opaque, 255, 0)
    array[~opaque] = 0
    return array


def limit_colors(pixels: np.ndarray, max_colors: int) -> np.ndarray:
    """(B, H, W, 4) uint8 sprites, each one's opaque pixels mapped onto its own adaptive palette of at most
    `max_colors` — the pixel-art stage's palette (k-means in CIELAB from a seeded start: deterministic)."""
    limited = pixels.copy()
    for sprite in limited:
        opaque = sprite[..., 3] == 255
        rgb = np.ascontiguousarray(sprite[opaque][:, :3])
        if len(rgb) == 0 or count_colors(rgb) <= max_colors:
            continue
        palette = adaptive_palette(rgb, max_colors)
        sprite[opaque, :3] = palette[map_to_palette(rgb, palette)]
    return limited


class SpritePipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet"  # type: ignore[assignment]  # diffusers types the default, None
    # Set by register_modules (diffusers' way: they are saved and offloaded with the pipeline).
    unet: UNet2DConditionModel
    text_encoder: SpriteTextEncoder
    tokenizer: SpriteTokenizer
    scheduler: FlowMatchEulerDiscreteScheduler
    _callback_tensor_inputs = ["latents"]  # noqa: RUF012 - diffusers reads this class attribute

    def __init__(
        self,
        unet: UNet2DConditionModel,
        text_encoder: SpriteTextEncoder,
        tokenizer: SpriteTokenizer,
        scheduler: FlowMatchEulerDiscreteScheduler,
    ) -> None:
        super().__init__()
        # diffusers leaves register_modules unannotated
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)  # type: ignore[no-untyped-call]
        self._interrupt = False

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any) -> SpritePipeline:
        # The weights are stored in fp16 to halve the download, but CPUs run fp16 convolutions slowly or not
        # at all, so unless the caller asks for a dtype the pipeline comes back in float32.
        if "dtype" not in kwargs and "torch_dtype" not in kwargs:
            kwargs["dtype"] = torch.float32
        pipe: SpritePipeline = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        return pipe

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def encode_prompt(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token states, their attention mask and the pooled embedding for each prompt."""
        tokens = self.tokenizer(
            prompts, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True,
            return_tensors="pt",
        )
        device = self._execution_device
        mask = tokens.attention_mask.to(device)
        out = self.text_encoder(tokens.input_ids.to(device), mask)
        return out.last_hidden_state.to(self.unet.dtype), mask, out.pooled.to(self.unet.dtype)

    def latents_to_images(self, latents: torch.Tensor, max_colors: int | None = None) -> list[PIL.Image.Image]:
        """Pixel-space samples (or x0 estimates) → RGBA images, with at most `max_colors` each (None: as
        sampled); used for final images, keep-partial stops and previews."""
        return [PIL.Image.fromarray(a, mode="RGBA") for a in self._pixels(latents, max_colors)]

    @staticmethod
    def _pixels(latents: torch.Tensor, max_colors: int | None, known: KnownPixels | None = None) -> np.ndarray:
        pixels = to_uint8_rgba(latents)
        if max_colors is not None:
            pixels = limit_colors(pixels, max_colors)
        if known is not None:  # inpainting: what was not repainted is the input, exactly
            pixels = np.where(known.where, known.pixels, pixels)
        return pixels

    @staticmethod
    def first_step(num_inference_steps: int, strength: float) -> int:
        """Index of the first step that runs at `strength` (1: all of them, 0: none), diffusers' rule."""
        return num_inference_steps - steps_that_run(num_inference_steps, strength)

    def _check_inputs(self, prompt: str | list[str], height: int, width: int, callback_inputs: list[str]) -> None:
        if not isinstance(prompt, str | list):
            raise TypeError(f"prompt must be a str or a list of str, got {type(prompt).__name__}")
        factor = 2 ** (len(self.unet.config["block_out_channels"]) - 1)
        if height % factor or width % factor:
            raise ValueError(f"height and width must be multiples of {factor}, got {height}×{width}")
        unknown = set(callback_inputs) - set(self._callback_tensor_inputs)
        if unknown:
            raise ValueError(f"callback_on_step_end_tensor_inputs may only name {self._callback_tensor_inputs}")

    def _styled(self, prompts: list[str], generator: Generator) -> list[str]:
        """Each image's prompt ending with the style token drawn for it (styles.py), for a model trained with
        style tokens; unchanged otherwise. The draw uses the image's seed (its generator's initial seed), not
        the generator's stream, so a seed's noise is the same whichever style it drew."""
        table = self.tokenizer.styles
        if table is None:
            return prompts
        if isinstance(generator, list):
            seeds = [g.initial_seed() for g in generator]
        elif generator is not None:
            seeds = [generator.initial_seed() + i for i in range(len(prompts))]
        else:
            seeds = torch.randint(0, 2**62, (len(prompts),)).tolist()
        room = self.tokenizer.model_max_length - 2  # BOS and the style token: the token is never truncated away
        # Read each distinct prompt once: the images of one prompt share its words and differ only in their seed.
        known = {prompt: self.tokenizer.known_words(prompt) for prompt in set(prompts)}
        return [" ".join([*known[prompt][:room], pick_style(known[prompt], table, seed)])
                for prompt, seed in zip(prompts, seeds, strict=False)]

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 20,
        guidance_scale: float = 4.0,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        generator: Generator = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        max_colors: int | None = DEFAULT_MAX_COLORS,
        image: ImageInput | None = None,
        strength: float = 1.0,
        mask_image: ImageInput | None = None,
        return_dict: bool = True,
        callback_on_step_end: Callable[[Any, int, torch.Tensor, dict[str, torch.Tensor]], dict[str, torch.Tensor]]
        | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> SpritePipelineOutput | tuple[list[PIL.Image.Image] | np.ndarray | torch.Tensor]:
        """Text to sprite; with `image`, img2img (SDEdit: noise the image to `strength`, denoise the steps
        that remain); with `mask_image` too, inpainting: at every step the pixels outside the mask are put
        back at the step's noise level (RePaint-style), so no separately trained inpainting model is needed
        and the final sprite keeps them exactly."""
        if image is not None:
            first = image if isinstance(image, PIL.Image.Image) else image[0]
            width, height = width or first.width, height or first.height
        height = height or self.unet.config["sample_size"]
        width = width or self.unet.config["sample_size"]
        if mask_image is not None and image is None:
            raise ValueError("mask_image needs an image to inpaint")
        tensor_inputs = callback_on_step_end_tensor_inputs or ["latents"]
        self._check_inputs(prompt, height, width, tensor_inputs)
        self._guidance_scale = guidance_scale
        self._interrupt = False

        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        batch = len(prompts) * num_images_per_prompt
        prompts = self._styled([p for p in prompts for _ in range(num_images_per_prompt)], generator)
        states, mask, pooled = self.encode_prompt(prompts)
        if self.do_classifier_free_guidance:
            negatives = negative_prompt or ""
            negatives = [negatives] * len(prompts) if isinstance(negatives, str) else negatives
            if len(negatives) != batch:
                negatives = [n for n in negatives for _ in range(num_images_per_prompt)]
            neg_states, neg_mask, neg_pooled = self.encode_prompt(negatives)
            # Unconditional first, as in diffusers: chunk(2) below gives (uncond, cond).
            states = torch.cat([neg_states, states])
            mask = torch.cat([neg_mask, mask])
            pooled = torch.cat([neg_pooled, pooled])

        device = self._execution_device
        shape = (batch, self.unet.config["in_channels"], height, width)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        start = self.first_step(num_inference_steps, strength if image is not None else 1.0)
        self.scheduler.set_begin_index(start)
        timesteps = self.scheduler.timesteps[start:]
        self._num_timesteps = len(timesteps)  # progress counts only the steps that run

        init: torch.Tensor | None = None
        repaint: torch.Tensor | None = None  # inpainting: 1 where the mask repaints
        known: KnownPixels | None = None
        if latents is None:
            noise = randn_tensor(shape, generator=generator, device=device, dtype=self.unet.dtype)
            latents = noise
        else:
            noise = latents = latents.to(device=device, dtype=self.unet.dtype)
        if image is not None:
            init = image_samples(image, batch, (width, height)).to(device=device, dtype=self.unet.dtype)
            latents = self._noised(init, noise, start)
            if mask_image is not None:
                repaint = mask_samples(mask_image, batch, (width, height)).to(device=device, dtype=self.unet.dtype)
                where = (repaint == 0).permute(0, 2, 3, 1).cpu().numpy()
                known = KnownPixels(to_uint8_rgba(init), where)

        with self.progress_bar(total=len(timesteps)) as progress_bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                model_input = torch.cat([latents] * 2) if self.do_classifier_free_guidance else latents
                velocity = self.unet(
                    model_input, t.expand(model_input.shape[0]), encoder_hidden_states=states,
                    encoder_attention_mask=mask, class_labels=pooled,
                ).sample
                if self.do_classifier_free_guidance:
                    uncond, cond = velocity.chunk(2)
                    velocity = uncond + guidance_scale * (cond - uncond)
                # diffusers annotates the sample as torch.FloatTensor, a legacy type no tensor is an instance of
                latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0]  # type: ignore[arg-type]
                if repaint is not None and init is not None:
                    known_now = self._noised(init, noise, self.scheduler.step_index)
                    latents = repaint * latents + (1 - repaint) * known_now

                if callback_on_step_end is not None:
                    available = {"latents": latents}
                    callback_kwargs = {k: available[k] for k in tensor_inputs}
                    callback_outputs = callback_on_step_end(self, i, t, callback_kwargs)
                    latents = callback_outputs.pop("latents", latents)
                progress_bar.update()

        # Strength 0 runs no step and hands the input back as it is: nothing to limit.
        images = self._postprocess(latents, output_type, max_colors if len(timesteps) else None, known)
        self.maybe_free_model_hooks()  # type: ignore[no-untyped-call]  # diffusers leaves it unannotated
        if not return_dict:
            return (images,)
        return SpritePipelineOutput(images=images)

    def _noised(self, init: torch.Tensor, noise: torch.Tensor, step_index: int) -> torch.Tensor:
        """`init` at the noise level the schedule has before step `step_index` (flow matching's straight line)."""
        sigma: torch.Tensor = self.scheduler.sigmas[step_index].to(init.device, init.dtype)
        return sigma * noise + (1 - sigma) * init

    def _postprocess(
        self, latents: torch.Tensor, output_type: str, max_colors: int | None, known: KnownPixels | None
    ) -> list[PIL.Image.Image] | np.ndarray | torch.Tensor:
        if output_type == "latent":
            return latents
        pixels = self._pixels(latents, max_colors, known)
        if output_type == "pil":
            return [PIL.Image.fromarray(a, mode="RGBA") for a in pixels]
        if output_type == "np":
            return pixels.astype(np.float32) / 255.0
        if output_type == "pt":
            return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
        raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
