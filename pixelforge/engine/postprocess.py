"""The post-processing phase: what each finished image becomes on disk.

With the pixel-art stage (``TaskParams.pixel``, on by default for presets that paint fake pixel
art) the delivered image is the true 1× sprite, beside its upscaled copy, its palette (.gpl/.hex),
a manifest of what was detected and the model's raw image. Models whose output is already 1×
(the bundled sprite model) get a nearest-upscaled copy, and only palette options apply to them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

from pixelforge.pixelart import PixelArtError, PixelOptions, pixelate
from pixelforge.pixelart.export import png_bytes, sprite_sheet, write_atomic

log = logging.getLogger(__name__)

# Factor of the upscaled copy of a 1× model output drawn at the size asked for (a 32×32 sprite becomes 256×256).
SPRITE_UPSCALE = 8


def write_png(image: Image.Image, path: Path, parameters: str) -> None:
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=metadata)  # Pillow's default compression: png_bytes' level 9 is slow at 1328²
    write_atomic(path, buffer.getvalue())


@dataclass(frozen=True)
class SavedImage:
    path: Path  # the delivered image: the 1× sprite when the pixel-art stage ran
    size: tuple[int, int]
    files: dict[str, Path]  # the other outputs, by kind


class ImageWriter:
    """Writes the images of one task into ``folder`` as ``<stem>-<index>…``; remembers the sprites."""

    def __init__(
        self, folder: Path, stem: str, options: PixelOptions | None, already_1x: bool, scale: int = 1
    ) -> None:
        """``scale``: the whole factor from the size the model drew at to the size asked for (a model
        with a native size); the upscaled copy is made at it, so that copy is the size asked for."""
        self.folder = folder
        self.stem = stem
        if options is not None and scale > 1 and not options.upscale:
            options = options.model_copy(update={"upscale": scale})
        self.options = options
        self.already_1x = already_1x
        self.scale = scale
        self.sprites: list[Image.Image] = []
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, image: Image.Image, index: int, parameters: str) -> SavedImage:
        name = f"{self.stem}-{index:03d}"
        if self.options is not None:
            try:
                result = pixelate(image, self.options, already_1x=self.already_1x)
            except PixelArtError as exc:  # the model's image is still worth keeping
                log.warning("pixel-art stage skipped for %s: %s", name, exc)
            else:
                raw = self.folder / f"{name}-raw.png"
                write_png(image, raw, parameters)
                written = result.write(self.folder, name, text={"parameters": parameters})
                self.sprites.append(result.sprite)
                files = {kind: path for kind, path in written.items() if kind != "sprite"}
                return SavedImage(written["sprite"], result.sprite.size, files | {"raw": raw})
        path = self.folder / f"{name}.png"
        write_png(image, path, parameters)
        factor = self.scale if self.scale > 1 else SPRITE_UPSCALE if self.already_1x else None
        if factor is None:
            return SavedImage(path, image.size, {})
        self.sprites.append(image)  # drawn at its art size: a sprite
        upscaled = self.folder / f"{name}@{factor}x.png"
        size = (image.width * factor, image.height * factor)
        write_png(image.resize(size, Image.Resampling.NEAREST), upscaled, parameters)
        return SavedImage(path, image.size, {"upscaled": upscaled})

    def write_sheet(self) -> Path | None:
        """A sprite sheet of the task's 1× sprites, when it made more than one."""
        # Its sprites are exactly the images given an upscaled copy (is_sprite), the pixel-art stage's or a
        # model's drawn at art size, so that a sheet can also be made from stored images alone.
        return write_sheet(self.sprites, self.folder / f"{self.stem}-sheet.png")


def is_sprite(files: dict[str, str]) -> bool:
    """Whether a stored image (its ``ImageRef.files``) is a 1× sprite: ImageWriter gives those, and only those, an
    upscaled copy."""
    return "upscaled" in files


def write_sheet(sprites: list[Image.Image], path: Path) -> Path | None:
    """``sprites`` side by side at ``path``, when there are at least two; returns the path written."""
    if len(sprites) < 2:
        return None
    write_atomic(path, png_bytes(sprite_sheet(sprites)))
    return path
