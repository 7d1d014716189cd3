"""Images a client gives a task (img2img init images and masks): checked here, once, for every front end.

An upload is refused with a Problem naming the field, before anything is stored, when it is empty,
not an image Pillow reads, in a format other than PNG, JPEG, WebP, GIF or BMP, larger than the pixel
limit (read from the header: a decompression bomb is never decoded), or truncated. What passes is
decoded once and normalised: an init image keeps its alpha as RGBA (sprites are transparent), one
without alpha becomes RGB; a mask becomes greyscale (white = repaint). Animated images give their
first frame.

The task keeps the client's own file when it reads back as that same image (a still PNG, JPEG or WebP
whose alpha, if any, is RGBA's): re-encoding a 1 MB JPEG of noise as PNG stored 25 MB after 3 s of
CPU. Anything else is stored as the normalised image in PNG.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from pixelforge.tasks.model import Problem

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
# Formats a task stores as the client sent them (when they read back as the same image), by file suffix.
KEPT_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


class ImageUpload(BaseModel):
    """The encoded files of an img2img submission, as a client sent them."""

    init_image: bytes = Field(description="The image to start from.")
    mask: bytes | None = Field(default=None, description="Same size as the init image; white = repaint.")


@dataclass(frozen=True)
class InputImage:
    """A checked init image or mask: the file a task stores for it, and its size."""

    file: bytes
    """The client's own file when it reads back as the normalised image, else that image as PNG."""
    suffix: str
    size: tuple[int, int]


class ImageRejected(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)


def _reads_back_the_same(image: Image.Image, mask: bool) -> bool:
    """Whether opening the file again and converting it as the engine does (RGBA stays, anything else
    becomes RGB; a mask becomes L) gives the normalised image: only alpha outside RGBA differs."""
    still = getattr(image, "n_frames", 1) == 1
    return image.format in KEPT_SUFFIXES and still and (mask or image.mode == "RGBA" or not _has_alpha(image))


def read_image(data: bytes, field: str, max_pixels: int, *, mask: bool = False) -> InputImage:
    """The checked image, decoded once, or ImageRejected saying what is wrong with ``field``."""

    def refuse(message: str) -> ImageRejected:
        return ImageRejected(Problem(field=field, message=message))

    if not data:
        raise refuse("is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides, below
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise refuse(f"has too many pixels (at most {max_pixels})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise refuse(f"is not an image ({', '.join(FORMATS)} are accepted)") from None
    if image.format not in FORMATS:
        raise refuse(f"is {image.format}; accepted formats are {', '.join(FORMATS)}")
    width, height = image.size
    if width * height > max_pixels:
        raise refuse(f"is {width}×{height}: has too many pixels (at most {max_pixels})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise refuse(f"is truncated or corrupt ({exc})") from None
    if _reads_back_the_same(image, mask):
        return InputImage(file=data, suffix=KEPT_SUFFIXES[str(image.format)], size=image.size)
    normalised = image.convert("L") if mask else image.convert("RGBA" if _has_alpha(image) else "RGB")
    encoded = io.BytesIO()
    normalised.save(encoded, format="PNG")
    return InputImage(file=encoded.getvalue(), suffix=".png", size=image.size)


def read_upload(upload: ImageUpload, max_pixels: int) -> tuple[InputImage, InputImage | None]:
    """The init image and mask of an upload, checked together (a mask has the image's size)."""
    image = read_image(upload.init_image, "init_image", max_pixels)
    if upload.mask is None:
        return image, None
    mask = read_image(upload.mask, "mask", max_pixels, mask=True)
    if mask.size != image.size:
        (width, height), (mask_width, mask_height) = image.size, mask.size
        raise ImageRejected(Problem(
            field="mask", message=f"is {mask_width}×{mask_height}; the init image is {width}×{height}: "
            "they must be the same size"))
    return image, mask
