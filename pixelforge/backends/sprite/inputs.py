"""Init images and masks for the sprite pipeline's img2img and inpainting, as pixel-space tensors.

The sprite model denoises RGBA pixels, so an init image needs no encoder: it becomes a sample in
[-1, 1] exactly as the training sprites were (binary alpha, transparent pixels (0, 0, 0, 0)), and a mask
becomes a 0/1 tensor at the same pixel grid (1: repaint, as white is in A1111 and diffusers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import PIL.Image
import torch

ImageInput = PIL.Image.Image | Sequence[PIL.Image.Image]


def _as_list(images: ImageInput, batch: int, what: str) -> list[PIL.Image.Image]:
    listed = [images] if isinstance(images, PIL.Image.Image) else list(images)
    if not listed or batch % len(listed):
        raise ValueError(f"{what}: give one image, or one per prompt ({batch} images in the batch), got {len(listed)}")
    return [image for image in listed for _ in range(batch // len(listed))]


def _check_size(image: PIL.Image.Image, size: tuple[int, int], what: str) -> None:
    if image.size != size:
        raise ValueError(f"{what} is {image.width}×{image.height}; the sprite is {size[0]}×{size[1]}: resize it first")


def image_samples(images: ImageInput, batch: int, size: tuple[int, int]) -> torch.Tensor:
    """(batch, 4, H, W) in [-1, 1] from RGBA (or RGB, taken as opaque) images of exactly `size`."""
    arrays = []
    for image in _as_list(images, batch, "image"):
        _check_size(image, size, "image")
        rgba = np.asarray(image.convert("RGBA")).copy()
        transparent = rgba[..., 3] < 128
        rgba[..., 3] = np.where(transparent, 0, 255)
        rgba[transparent] = 0
        arrays.append(rgba)
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return pixels / 127.5 - 1.0


def mask_samples(masks: ImageInput, batch: int, size: tuple[int, int]) -> torch.Tensor:
    """(batch, 1, H, W) of 0/1: 1 where the mask is white (≥ 128 in grey), the pixels to repaint."""
    arrays = []
    for mask in _as_list(masks, batch, "mask_image"):
        _check_size(mask, size, "mask_image")
        arrays.append(np.asarray(mask.convert("L")) >= 128)
    return torch.from_numpy(np.stack(arrays)[:, None].astype(np.float32))
