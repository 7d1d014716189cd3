"""Finished images from the data directory: safe path resolution, nearest-neighbour upscaling and
the PNG ``parameters`` text chunk (A1111's infotext), which an upscaled copy keeps."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi import HTTPException, status
from PIL import Image, PngImagePlugin

from pixelforge.tasks.model import ImageRef, Task

# Upscaled images larger than this per side are refused: the server would spend its memory on them.
MAX_SCALED_SIDE = 8192


# Media types of the outputs the pixel-art stage writes beside each image (ImageRef.files).
OUTPUT_MEDIA_TYPES = {".png": "image/png", ".gpl": "text/plain", ".hex": "text/plain", ".json": "application/json"}


def data_file(data_dir: Path, relative: str, what: str) -> Path:
    """A file under the data directory; a path that points outside it is refused, not followed."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} is missing from the data directory")
    return path


def image_path(data_dir: Path, ref: ImageRef) -> Path:
    return data_file(data_dir, ref.path, f"image {ref.index}")


def find_image(task: Task, index: int) -> ImageRef:
    for ref in task.images:
        if ref.index == index:
            return ref
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"task {task.id} has no image {index}")


def as_asked_kind(task: Task, ref: ImageRef) -> str | None:
    """Which output of a finished image shows it at the size the client asked for: None for the image
    itself, when the model drew it at that size, else 'upscaled', the nearest-upscaled copy (scaled to
    the asked size from a model's native size — a 32×32 sprite asked for at 512×512 — or the pixel-art
    stage's copy of its 1× sprite). Clients of the A1111 and OpenAI APIs show an image as it comes."""
    resolved = task.resolved
    drawn_as_asked = resolved is not None and resolved.scale == 1 and (ref.width, ref.height) == (
        resolved.width, resolved.height)
    return "upscaled" if "upscaled" in ref.files and not drawn_as_asked else None


def png_parameters(path: Path) -> str | None:
    with Image.open(path) as image:
        return image.text.get("parameters") if isinstance(image, PngImagePlugin.PngImageFile) else None


def scaled_png(path: Path, scale: int) -> bytes:
    """The PNG upscaled ``scale`` times with nearest neighbour (crisp pixels), text chunks kept."""
    with Image.open(path) as image:
        width, height = image.size
        if max(width, height) * scale > MAX_SCALED_SIDE:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"scale {scale} would make a {width * scale}x{height * scale} image; "
                f"at most {MAX_SCALED_SIDE} pixels per side",
            )
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(image, "text", {}).items():
            info.add_text(key, value)
        scaled = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
        out = io.BytesIO()
        scaled.save(out, format="PNG", pnginfo=info)
        return out.getvalue()
