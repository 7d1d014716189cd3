"""An img2img task's init image and mask, made ready for a pipeline, and its outputs put back together.

What A1111 does before and after an img2img run, in pixel space so that every model gets the same:
the mask inverted when asked, blurred, the image and mask fitted to the requested size (``resize_mode``),
the masked area's starting content (``inpainting_fill``), "inpaint only masked" (crop the masked area
with padding, inpaint it at full size, paste it back) and the overlay that puts the known pixels back
after a latent model's VAE has touched every pixel.

A model whose output is 1× already (the sprite model) gets its mask as drawn, pixel for pixel: it keeps
the known pixels exactly by itself (RePaint-style), and a blurred seam or a resampled crop would only
add colours that are not in the sprite. So blur, "only masked" and the overlay are for latent models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from pixelforge.pixelart import PixelOptions, pixelate
from pixelforge.pixelart.quantize import count_colors
from pixelforge.tasks.model import Img2ImgOptions, InpaintingFill, ResizeMode

# A1111's fill: blurs from coarse to fine, each laid over the last, so the hole takes its surroundings' colours.
FILL_PASSES = ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1))
GREY = (128, 128, 128, 255)
# The sprite model's domain: what it was trained on, and what each of its finished sprites is.
SPRITE_COLORS = 16


def resample_for(source: tuple[int, int], target: tuple[int, int]) -> Image.Resampling:
    """Nearest when enlarging (pixel art stays crisp), box when shrinking (whole pixels averaged; exact for
    an image made of k×k blocks, smooth for a photo)."""
    enlarging = target[0] >= source[0] and target[1] >= source[1]
    return Image.Resampling.NEAREST if enlarging else Image.Resampling.BOX


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, resample_for(image.size, size))


def fit(image: Image.Image, size: tuple[int, int], mode: ResizeMode) -> Image.Image:
    """``image`` at ``size``: stretched, scaled to cover and centre-cropped, or scaled to fit with its edge
    rows and columns stretched into the bands left over (A1111's resize modes 0, 1, 2)."""
    width, height = size
    if mode is ResizeMode.JUST_RESIZE:
        return _resized(image, size)
    ratio, source_ratio = width / height, image.width / image.height
    cover = mode is ResizeMode.CROP_AND_RESIZE
    if (ratio > source_ratio) == cover:
        scaled = (width, max(1, round(image.height * width / image.width)))
    else:
        scaled = (max(1, round(image.width * height / image.height)), height)
    resized = _resized(image, scaled)
    canvas = Image.new(image.mode, size)
    left, top = (width - scaled[0]) // 2, (height - scaled[1]) // 2
    canvas.paste(resized, (left, top))
    if not cover:
        if top > 0:  # bands above and below: the first and last rows, stretched
            canvas.paste(resized.crop((0, 0, scaled[0], 1)).resize((scaled[0], top)), (left, 0))
            bottom = top + scaled[1]
            last = resized.crop((0, scaled[1] - 1, scaled[0], scaled[1]))
            canvas.paste(last.resize((scaled[0], height - bottom)), (left, bottom))
        if left > 0:  # bands left and right: the first and last columns
            canvas.paste(resized.crop((0, 0, 1, scaled[1])).resize((left, scaled[1])), (0, top))
            right = left + scaled[0]
            last = resized.crop((scaled[0] - 1, 0, scaled[0], scaled[1]))
            canvas.paste(last.resize((width - right, scaled[1])), (right, top))
    return canvas


def in_sprite_domain(image: Image.Image) -> Image.Image:
    """``image`` (already at the sprite's size) as the sprite model knows images: a photo or a painting goes
    through the pixel-art stage's 1× steps — its adaptive palette of at most 16 colours and the removal of the
    background around the subject, so that the subject stands on transparency like the emoji sprites it learnt
    from (denoised from a full-frame photo, every pixel turns to speckle). A sprite (binary alpha, at most 16
    colours) is left exactly as it is."""
    rgba = np.asarray(image.convert("RGBA"))
    alpha = rgba[..., 3]
    binary = bool(np.isin(alpha, (0, 255)).all())
    opaque = np.ascontiguousarray(rgba[alpha == 255][:, :3])
    if binary and (len(opaque) == 0 or count_colors(opaque) <= SPRITE_COLORS):
        return image
    return pixelate(image, PixelOptions(colors=SPRITE_COLORS), already_1x=True).sprite


def filled(image: Image.Image, mask: Image.Image, fill: InpaintingFill, seed: int) -> Image.Image:
    """The image with its masked area's starting content replaced as ``fill`` says."""
    if fill is InpaintingFill.ORIGINAL:
        return image
    rgba = image.convert("RGBA")
    if fill is InpaintingFill.FILL:
        visible = rgba.copy()
        visible.putalpha(ImageOps.invert(mask))
        content = Image.new("RGBA", image.size)
        for radius, repeats in FILL_PASSES:
            blurred = visible.filter(ImageFilter.GaussianBlur(radius)) if radius else visible
            for _ in range(repeats):
                content.alpha_composite(blurred)
        content.putalpha(255)
    elif fill is InpaintingFill.LATENT_NOISE:
        noise = np.random.default_rng(seed).integers(0, 256, (image.height, image.width, 3), dtype=np.uint8)
        content = Image.fromarray(noise, "RGB").convert("RGBA")
    else:
        content = Image.new("RGBA", image.size, GREY)
    return Image.composite(content, rgba, mask).convert(image.mode)


def crop_region(mask: Image.Image, padding: int, aspect: float) -> tuple[int, int, int, int] | None:
    """The masked area's box grown by ``padding`` and then to the ``aspect`` (width / height) of the size it
    is inpainted at, kept inside the image; None when the mask is empty."""
    box = mask.point(lambda v: 255 if v else 0).getbbox()
    if box is None:
        return None
    x1, y1 = max(0, box[0] - padding), max(0, box[1] - padding)
    x2, y2 = min(mask.width, box[2] + padding), min(mask.height, box[3] + padding)
    width, height = x2 - x1, y2 - y1
    if width / height < aspect:
        grow = min(mask.width, round(height * aspect)) - width
        x1 = max(0, min(x1 - grow // 2, mask.width - (width + grow)))
        x2 = x1 + width + grow
    else:
        grow = min(mask.height, round(width / aspect)) - height
        y1 = max(0, min(y1 - grow // 2, mask.height - (height + grow)))
        y2 = y1 + height + grow
    return x1, y1, x2, y2


@dataclass(frozen=True)
class PreparedInput:
    """What the pipeline gets (``image``, ``mask`` at the requested size) and what putting the outputs back
    needs: the image they are laid over, the (blurred) mask that lays them, and where."""

    image: Image.Image
    mask: Image.Image | None
    overlay_base: Image.Image | None = None
    overlay_mask: Image.Image | None = None
    paste_box: tuple[int, int, int, int] | None = None

    def finish(self, outputs: list[Image.Image]) -> list[Image.Image]:
        """Each output laid over the known pixels (inpainting); others as they are."""
        if self.overlay_base is None or self.overlay_mask is None:
            return outputs
        finished = []
        for output in outputs:
            base = self.overlay_base.copy()
            if self.paste_box is None:
                layer = output.convert(base.mode)
                finished.append(Image.composite(layer, base, self.overlay_mask))
                continue
            x1, y1, x2, y2 = self.paste_box
            patch = _resized(output.convert(base.mode), (x2 - x1, y2 - y1))
            base.paste(patch, (x1, y1), self.overlay_mask.crop(self.paste_box))
            finished.append(base)
        return finished


def prepare(
    image: Image.Image,
    mask: Image.Image | None,
    options: Img2ImgOptions,
    size: tuple[int, int],
    seed: int,
    outputs_1x: bool,
) -> PreparedInput:
    """The init image (RGBA kept for a 1× model, RGB for a latent one) and mask, ready for the pipeline."""
    if not outputs_1x:
        image = image.convert("RGB")
    if mask is None:
        fitted = fit(image, size, options.resize_mode)
        # Inpainting keeps the known pixels as given, and strength 0 returns the image as it is: only an image
        # that is redrawn is brought into the domain.
        redrawn = outputs_1x and options.denoising_strength > 0
        return PreparedInput(image=in_sprite_domain(fitted) if redrawn else fitted, mask=None)
    if options.inpainting_mask_invert:
        mask = ImageOps.invert(mask)
    if outputs_1x:
        fitted_mask = fit(mask, size, options.resize_mode)
        fitted = fit(image, size, options.resize_mode)
        # The pipeline puts the known pixels back in what it finishes; the overlay does it for an image a stop
        # kept too (decoded from the current estimate, which knows nothing of the mask). Binary, as the
        # pipeline reads the mask (white ≥ 128 is repainted), and RGBA, as its sprites are.
        repainted = fitted_mask.point(lambda value: 255 if value >= 128 else 0)
        return PreparedInput(
            image=filled(fitted, fitted_mask, options.inpainting_fill, seed), mask=fitted_mask,
            overlay_base=fitted.convert("RGBA"), overlay_mask=repainted,
        )
    if options.mask_blur:
        mask = mask.filter(ImageFilter.GaussianBlur(options.mask_blur))
    box = crop_region(mask, options.inpaint_full_res_padding, size[0] / size[1]) if options.inpaint_full_res else None
    if box is not None:
        crop_image = _resized(image.crop(box), size)
        crop_mask = _resized(mask.crop(box), size)
        return PreparedInput(
            image=filled(crop_image, crop_mask, options.inpainting_fill, seed), mask=crop_mask,
            overlay_base=image, overlay_mask=mask, paste_box=box,
        )
    fitted_mask = fit(mask, size, options.resize_mode)
    fitted = fit(image, size, options.resize_mode)
    return PreparedInput(
        image=filled(fitted, fitted_mask, options.inpainting_fill, seed), mask=fitted_mask,
        overlay_base=fitted, overlay_mask=fitted_mask,
    )
