"""Deterministic files out of a result: PNGs, palettes, manifest; and sprite sheets for a batch."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, PngImagePlugin

from .manifest import PixelManifest
from .palettes import RGB, format_gpl, format_hex


def png_bytes(image: Image.Image, text: Mapping[str, str] | None = None) -> bytes:
    """PNG encoding with fixed settings and only the given text chunks, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    image.save(buffer, format="PNG", optimize=False, compress_level=9, pnginfo=info)
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """``data`` under ``path``, renamed into place: a crash leaves a stray ``.tmp`` (pixelforge's data dir sweeps
    them at the next start), never a half-written file under this name; a failed write (a full disk) removes its
    ``.tmp`` at once."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_outputs(
    out_dir: Path,
    stem: str,
    *,
    sprite: Image.Image,
    upscaled: Image.Image,
    palette: list[RGB],
    manifest: PixelManifest,
    text: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``stem.png`` (1×), ``stem@{s}x.png``, ``stem.gpl``, ``stem.hex`` and ``stem.json`` into ``out_dir``.

    ``text`` goes into both PNGs as text chunks (pixelforge puts A1111's ``parameters`` there).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "sprite": out_dir / f"{stem}.png",
        "upscaled": out_dir / f"{stem}@{manifest.upscale}x.png",
        "gpl": out_dir / f"{stem}.gpl",
        "hex": out_dir / f"{stem}.hex",
        "manifest": out_dir / f"{stem}.json",
    }
    write_atomic(paths["sprite"], png_bytes(sprite, text))
    write_atomic(paths["upscaled"], png_bytes(upscaled, text))
    write_atomic(paths["gpl"], format_gpl(palette, stem).encode())
    write_atomic(paths["hex"], format_hex(palette).encode())
    write_atomic(paths["manifest"], (manifest.model_dump_json(indent=2) + "\n").encode())
    return paths


def sprite_sheet(sprites: Sequence[Image.Image], *, columns: int | None = None, padding: int = 1) -> Image.Image:
    """1× sprites on a transparent grid, row-major, each centred in a cell as large as the largest sprite."""
    if not sprites:
        raise ValueError("a sprite sheet needs at least one sprite")
    columns = columns or math.ceil(math.sqrt(len(sprites)))
    rows = math.ceil(len(sprites) / columns)
    cell_w = max(s.width for s in sprites) + padding
    cell_h = max(s.height for s in sprites) + padding
    sheet = Image.new("RGBA", (columns * cell_w - padding, rows * cell_h - padding), (0, 0, 0, 0))
    for i, sprite in enumerate(sprites):
        x = (i % columns) * cell_w + (cell_w - padding - sprite.width) // 2
        y = (i // columns) * cell_h + (cell_h - padding - sprite.height) // 2
        sheet.paste(sprite.convert("RGBA"), (x, y))
    return sheet
