"""``pixelate``: fake pixel art in, true pixel art out (1× sprite, upscaled copy, palette, manifest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from . import export
from .alpha import find_background, outline_mask
from .color import hex_to_rgb, pairwise_delta_e, rgb_to_hex, rgb_to_ycc, srgb_to_lab, ycc_to_rgb
from .deblur import chroma_blur_bound, estimate_blur, unmix
from .drift import fit_drift
from .errors import PixelArtError
from .grid import NO_GRID, Grid, detect_grid, edge_profiles, grid_contrast
from .manifest import PixelManifest
from .metrics import compute_metrics
from .options import PixelOptions
from .palettes import RGB, load_palette
from .quantize import MIN_DISTINCT_DELTA_E, adaptive_palette, count_colors, distinct_palette, map_to_palette
from .sample import sample_cells

# Larger inputs are refused before decoding: no generator paints this much, and the work grows with it.
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class PixelResult:
    sprite: Image.Image  # 1×, RGBA, alpha 0/255, transparent pixels (0, 0, 0, 0)
    upscaled: Image.Image  # the sprite enlarged by manifest.upscale, nearest neighbour
    palette: list[RGB]  # the sprite's opaque colours, darkest first
    manifest: PixelManifest

    def write(self, out_dir: Path, stem: str, text: Mapping[str, str] | None = None) -> dict[str, Path]:
        """Write the 1× PNG, the upscaled PNG, ``.gpl``, ``.hex`` and the JSON manifest; returns their paths.

        ``text``: PNG text chunks for both images (e.g. A1111's ``parameters``)."""
        return export.write_outputs(
            Path(out_dir),
            stem,
            sprite=self.sprite,
            upscaled=self.upscaled,
            palette=self.palette,
            manifest=self.manifest,
            text=text,
        )


def load_image(source: str | Path | IO[bytes]) -> Image.Image:
    """Open and decode an image file, with the checks of ``pixelate`` done before decoding."""
    try:
        with Image.open(source) as opened:
            _check_size(opened.size)
            opened.load()
            return opened.copy()
    except FileNotFoundError as exc:
        raise PixelArtError(f"file not found: {source}") from exc
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PixelArtError(f"not an image (or a damaged one): {source}") from exc


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise PixelArtError(f"the image is empty ({width}×{height})")
    if width * height > MAX_PIXELS:
        raise PixelArtError(
            f"the image is too large ({width}×{height} = {width * height / 1e6:.0f} MP; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} MP)"
        )


def _to_rgba(image: object) -> NDArray[np.uint8]:
    if not isinstance(image, Image.Image):
        raise PixelArtError(f"not an image: expected a PIL image, got {type(image).__name__}")
    _check_size(image.size)
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)


def validate_options(options: PixelOptions) -> None:
    """Checks that need no image: pitches above 1 and a readable palette. Raises PixelArtError.

    Front ends call it when a task is submitted, so a bad option is refused before anything runs."""
    for name, value in (("pitch", options.pitch), ("expected pitch", options.expected_pitch)):
        if value is not None and (not np.isfinite(value) or value <= 1):
            raise PixelArtError(f"the {name} must be greater than 1 (image pixels per art pixel), got {value:g}")
    if options.palette is not None:
        load_palette(options.palette)


def _check_pitches(options: PixelOptions, width: int, height: int) -> None:
    validate_options(options)
    for name, value in (("pitch", options.pitch), ("expected pitch", options.expected_pitch)):
        if value is not None and value > min(width, height):
            raise PixelArtError(f"the {name} {value:g} is larger than the image ({width}×{height})")


def _resolve_palette(options: PixelOptions) -> tuple[str, NDArray[np.uint8] | None]:
    if options.palette is None:
        return "adaptive", None
    name, colors = load_palette(options.palette)
    return name, distinct_palette(np.array(colors, dtype=np.uint8))


def _add_outline(
    index: NDArray[np.int64], palette: NDArray[np.uint8], color: RGB, fixed: bool
) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """Paint a 1-px outline around the opaque shape, in the palette colour nearest ``color`` when the palette is
    fixed (or the colour is indistinguishable from one already used), else in ``color`` itself."""
    ring = outline_mask(index >= 0)
    if not ring.any():
        return index, palette
    if len(palette):
        distance = pairwise_delta_e(srgb_to_lab(np.array([color])), srgb_to_lab(palette))[0]
        nearest = int(np.argmin(distance))
        if fixed or distance[nearest] < MIN_DISTINCT_DELTA_E:
            return np.where(ring, nearest, index), palette
    palette = np.vstack([palette.reshape(-1, 3), np.array([color], dtype=np.uint8)])
    return np.where(ring, len(palette) - 1, index), palette


def _used_darkest_first(
    index: NDArray[np.int64], palette: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """Drop unused palette colours and order the rest by lightness (ties by value), remapping the indices."""
    used = np.unique(index[index >= 0])
    if not len(used):
        return index, palette[:0]
    colors = palette[used]
    lightness = srgb_to_lab(colors)[:, 0]
    order = np.lexsort((colors[:, 2], colors[:, 1], colors[:, 0], np.round(lightness, 6)))
    remap = np.full(len(palette), -1, dtype=np.int64)
    remap[used[order]] = np.arange(len(order))
    return np.where(index >= 0, remap[np.maximum(index, 0)], -1), colors[order]


def _upscale_factor(options: PixelOptions, grid: Grid, size: tuple[int, int]) -> int:
    if options.upscale:
        factor = options.upscale
        if factor * factor * size[0] * size[1] > MAX_PIXELS:
            raise PixelArtError(f"an upscale of {factor}× would make the copy larger than {MAX_PIXELS / 1e6:.0f} MP")
        return factor
    factor = max(2, round(grid.pitch))
    while factor > 1 and factor * factor * size[0] * size[1] > MAX_PIXELS:
        factor -= 1
    return factor


def pixelate(image: Image.Image, options: PixelOptions, *, already_1x: bool = False) -> PixelResult:
    """Turn ``image`` into true pixel art. Raises ``PixelArtError`` for unusable input or options.

    ``already_1x`` skips the grid (one image pixel is one art pixel, as from the bundled sprite model): only the
    palette, alpha and export steps run."""
    rgba = _to_rgba(image)
    height, width = rgba.shape[:2]
    _check_pitches(options, width, height)
    palette_name, fixed = _resolve_palette(options)

    # Work in YCbCr (+ alpha when the input has some): luma and chroma are blurred differently. With alpha, colours
    # are premultiplied: blur mixes them linearly that way, and the junk colour of nearly transparent pixels
    # (soft edges) then carries no weight.
    has_alpha = bool((rgba[..., 3] < 255).any())
    coverage = rgba[..., 3:].astype(np.float32) / 255
    pixels = rgb_to_ycc(rgba[..., :3] * coverage if has_alpha else rgba[..., :3])
    if has_alpha:
        pixels = np.concatenate([pixels, 255 * coverage], axis=-1)
    profiles = edge_profiles(pixels)
    grid = NO_GRID if already_1x else detect_grid(profiles, pitch=options.pitch, expected_pitch=options.expected_pitch)
    if options.adaptive_grid and grid.source != "none":
        grid = fit_drift(pixels, profiles, grid)
    blur = (0.0, 0.0)
    if grid.source == "none":
        values, spread = pixels, 0.0
    else:
        cells = sample_cells(pixels, grid)
        luma = [0, 3] if has_alpha else [0]
        luma_blur = estimate_blur(pixels[..., luma], grid, profiles)
        blur = (luma_blur, min(estimate_blur(pixels[..., 1:3], grid, profiles), chroma_blur_bound(luma_blur)))
        values = cells.values.copy()
        values[..., luma] = unmix(cells.values[..., luma], cells, blur[0])
        values[..., 1:3] = unmix(cells.values[..., 1:3], cells, blur[1])
        spread = cells.spread
    values[..., :3] = ycc_to_rgb(values[..., :3])
    if has_alpha:
        values[..., :3] /= np.maximum(values[..., 3:], 1.0) / 255

    rgb = np.clip(np.rint(values[..., :3]), 0, 255).astype(np.uint8)
    opaque = values[..., 3] >= 128 if has_alpha else np.ones(rgb.shape[:2], dtype=bool)
    background = None
    if options.remove_background:
        background = find_background(
            srgb_to_lab(rgb),
            opaque,
            options.background_tolerance,
            enclosed=options.remove_enclosed,
            bodies=already_1x or grid.source != "none",
        )
        if background is not None:
            opaque &= ~background.mask

    outline = hex_to_rgb(options.outline) if options.outline else None
    if fixed is not None:
        palette = fixed
    elif opaque.any():
        # The outline colour takes one slot of the budget.
        budget = options.colors if options.colors is None or outline is None else max(1, options.colors - 1)
        palette = adaptive_palette(rgb[opaque], budget)
    else:
        palette = np.zeros((0, 3), dtype=np.uint8)
    index = np.full(rgb.shape[:2], -1, dtype=np.int64)
    if opaque.any():
        positions = np.argwhere(opaque) if options.dither == "ordered" else None
        index[opaque] = map_to_palette(rgb[opaque], palette, positions)
    if outline is not None:
        index, palette = _add_outline(index, palette, outline, fixed is not None)
    index, palette = _used_darkest_first(index, palette)

    sprite = np.zeros((*index.shape, 4), dtype=np.uint8)
    sprite[index >= 0, :3] = palette[index[index >= 0]]
    sprite[index >= 0, 3] = 255
    sprite_image = Image.fromarray(sprite, "RGBA")
    size = sprite_image.size
    factor = _upscale_factor(options, grid, size)
    upscaled = sprite_image.resize((size[0] * factor, size[1] * factor), Image.Resampling.NEAREST)

    colors_before = count_colors(rgba[..., :3].reshape(-1, 3))
    manifest = PixelManifest(
        source_size=(width, height),
        size=size,
        pitch=round(grid.pitch, 4),
        phase=(round(grid.phase[0], 3), round(grid.phase[1], 3)),
        confidence=round(grid.confidence, 4),
        blur=(round(blur[0], 3), round(blur[1], 3)),
        pitch_source=grid.source,
        grid_fit="uniform" if grid.lines is None else "per-line",
        colors_before=colors_before,
        colors_after=len(palette),
        palette_name=palette_name,
        palette=[rgb_to_hex((int(c[0]), int(c[1]), int(c[2]))) for c in palette],
        background=rgb_to_hex(background.color) if background is not None else None,
        transparent_pixels=int((index < 0).sum()),
        upscale=factor,
        metrics=compute_metrics(rgba, sprite, grid, grid_contrast(profiles, grid), spread),
    )
    colors: list[RGB] = [(int(r), int(g), int(b)) for r, g, b in palette]
    return PixelResult(sprite=sprite_image, upscaled=upscaled, palette=colors, manifest=manifest)


def sprite_sheet(results: Sequence[PixelResult], *, columns: int | None = None, padding: int = 1) -> Image.Image:
    """The 1× sprites of a batch on one transparent sheet."""
    return export.sprite_sheet([r.sprite for r in results], columns=columns, padding=padding)
