"""Images a client gives a task (img2img init images and masks): checked here, once, for every front end.

An upload is refused with a Problem naming the field, before anything is stored, when it is empty,
not an image Pillow reads, in a format other than PNG, JPEG, WebP, GIF or BMP, larger than the pixel
limit (read from the header: a decompression bomb is never decoded), or truncated. What passes is
decoded once and normalised: an init image keeps its alpha as RGBA (sprites are transparent), one
without alpha becomes RGB; a mask becomes greyscale (white = repaint). Animated images give their
first frame.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from pixelforge.tasks.model import Problem

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class ImageUpload(BaseModel):
    """The encoded files of an img2img submission, as a client sent them."""

    init_image: bytes = Field(description="The image to start from.")
    mask: bytes | None = Field(default=None, description="Same size as the init image; white = repaint.")


class ImageRejected(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)


def read_image(data: bytes, field: str, max_pixels: int, *, mask: bool = False) -> Image.Image:
    """The decoded, normalised image, or ImageRejected saying what is wrong with ``field``."""

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
    if mask:
        return image.convert("L")
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def read_upload(upload: ImageUpload, max_pixels: int) -> tuple[Image.Image, Image.Image | None]:
    """The init image and mask of an upload, checked together (a mask has the image's size)."""
    image = read_image(upload.init_image, "init_image", max_pixels)
    if upload.mask is None:
        return image, None
    mask = read_image(upload.mask, "mask", max_pixels, mask=True)
    if mask.size != image.size:
        raise ImageRejected(Problem(
            field="mask", message=f"is {mask.width}×{mask.height}; the init image is {image.width}×{image.height}: "
            "they must be the same size"))
    return image, mask
