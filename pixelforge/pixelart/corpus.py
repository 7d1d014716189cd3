"""A synthetic corpus with ground truth: true sprites degraded like diffusion output ("fake pixel art").

Used by the tests (a small slice) and ``benchmarks/pixelart_bench.py`` (all of it). Each sprite is n×n cells
(24..128, capped so the rendering stays near diffusion-model sizes), 5-8 PICO-8 colours, a 1-px outline (half of
the pale ones have none), an enclosed 2×2 patch of the background colour (art, not a hole), isolated 1-px
highlights and, on half of them, a checkerboard dither patch.
It is rendered at a fractional pitch with a phase offset by exact area averaging, then blurred, with per-cell
and per-pixel noise, optionally through JPEG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage

from .color import delta_e, srgb_to_lab
from .palettes import load_palette

PITCHES: tuple[float, ...] = (4.0, 5.0, 8.0, 12.5, 16.0, 21.33, 32.0)
# standard: as above. white-interior: on white or near-white, with enclosed spots of the background colour (1×1,
# 2×2, 3×3: highlights, eyes, windows). white-body: near-white body colours on a near-white background, held
# only by the outline. ring: a round hole through the body that is background (a donut). transparent: the
# background is alpha 0 in the input. pale: white, cream or light-grey bodies on a white, off-white or light-grey
# background, at least ``PALE_CONTRAST`` from it, with dark specks (eyes); half of them have no outline, so only
# the few ΔE between body and background hold the body.
SpriteKind = Literal["standard", "white-interior", "white-body", "ring", "transparent", "pale"]
# New kinds go last: a kind's index seeds its sprites, so the other kinds' images stay the same.
KINDS: tuple[SpriteKind, ...] = ("standard", "white-interior", "white-body", "ring", "transparent", "pale")
# Cell sizes drawn in pitch × [1 - JITTER, 1 + JITTER] per column and per row for drifting grids, plus one row
# and one column this much of a pitch larger: the grid below and right of it is offset.
JITTER = 0.15
GRID_OFFSET = 0.35
# Diffusion models paint at roughly 1024-1328 px; no sprite is rendered much larger than this.
MAX_RENDER_SIZE = 1344
_BACKGROUNDS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255),
    (236, 236, 236),
    (255, 0, 255),
    (36, 40, 56),
    (196, 222, 255),
    (118, 196, 120),
)
_WHITES: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (236, 236, 236))
# White, PICO-8's cream and light grey: the body colours of a white-bodied sprite.
_NEAR_WHITES = np.array([(255, 255, 255), (255, 241, 232), (194, 195, 199)])
# White, off-white and light grey: the backgrounds of a pale sprite.
_PALE_BACKGROUNDS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (245, 242, 235), (220, 220, 220))
# The least ΔE76 between a pale sprite's body colours and its background (white on off-white is 5.8; cream on
# off-white, 4.1, is left out: cell noise alone spans that).
PALE_CONTRAST = 5.0


@dataclass(frozen=True)
class TrueSprite:
    rgba: NDArray[np.uint8]  # (n, n, 4); alpha 0 or 255, transparent RGB = 0
    details: NDArray[np.bool_]  # (n, n): isolated 1-px highlights and dither-patch cells
    background: tuple[int, int, int] | None  # None: rendered transparent


@dataclass(frozen=True)
class CorpusItem:
    name: str
    image: Image.Image
    truth: TrueSprite
    pitch: float
    phase: tuple[float, float]  # (x, y) offset of the first grid line, image pixels
    blur: float  # Gaussian σ, image pixels
    jpeg_quality: int | None
    kind: SpriteKind = "standard"
    jitter: float = 0.0  # cell sizes vary by ± this share of the pitch (0: a uniform grid)


def make_sprite(rng: np.random.Generator, n: int, kind: SpriteKind = "standard") -> TrueSprite:
    """One procedural sprite of n×n cells (see ``SpriteKind``)."""
    pico = np.array(load_palette("pico-8")[1])
    chosen = pico[rng.choice(len(pico), size=int(rng.integers(5, 9)), replace=False)]
    lab = srgb_to_lab(chosen)
    order = np.argsort(lab[:, 0])
    outline, highlight, body = chosen[order[0]], chosen[order[-1]], chosen[order[1:-1]]
    bg_options = [c for c in _BACKGROUNDS if delta_e(srgb_to_lab(np.array(c)), lab).min() >= 30]
    background = bg_options[int(rng.integers(len(bg_options)))]
    if kind in ("white-interior", "white-body"):
        background = _WHITES[int(rng.integers(len(_WHITES)))]
    if kind == "white-body":
        body = _NEAR_WHITES[rng.permutation(len(_NEAR_WHITES))[: len(body)]]
    outlined = True
    if kind == "pale":
        background = _PALE_BACKGROUNDS[int(rng.integers(len(_PALE_BACKGROUNDS)))]
        contrast = delta_e(srgb_to_lab(_NEAR_WHITES), srgb_to_lab(np.array(background)))
        pale = _NEAR_WHITES[contrast >= PALE_CONTRAST]
        body = pale[rng.permutation(len(pale))[: len(body)]]
        # The specks are the second-darkest colour (eyes, buttons): a pale sprite has no light highlight to add.
        highlight = chosen[order[1]]
        outlined = bool(rng.random() < 0.5)

    yy, xx = np.mgrid[0:n, 0:n]
    half = (n + 1) // 2
    mask = np.zeros((n, n), dtype=bool)
    fill = np.zeros((n, n), dtype=np.int64)
    for _ in range(int(rng.integers(3, 7))):
        cy, cx = rng.uniform(0.3 * n, 0.7 * n), rng.uniform(0.3 * n, 0.55 * n)
        ry, rx = rng.uniform(n / 8, n / 3.2, size=2)
        blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        mask |= blob
        fill[blob] = rng.integers(len(body))
    # Mirror the left half (sprites are mostly symmetric) and keep a 2-cell background margin.
    mask[:, n - half :] = mask[:, :half][:, ::-1]
    fill[:, n - half :] = fill[:, :half][:, ::-1]
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = False, False, False, False
    mask = _largest_component(mask)
    if kind == "ring":
        # A round hole where the body is thickest: the body stays at least 2 cells wide around it.
        depth = ndimage.distance_transform_edt(mask)
        hy, hx = np.unravel_index(int(np.argmax(depth)), depth.shape)
        radius = max(1.5, min(n / 10, depth[hy, hx] - 3))
        mask &= (yy - hy) ** 2 + (xx - hx) ** 2 > radius**2

    # An enclosed 2×2 patch of the background colour (an eye, a window): art that removal must keep.
    inner = ndimage.binary_erosion(mask, iterations=3)
    spots = np.argwhere(inner)
    window = np.zeros_like(mask)
    if len(spots) and kind != "ring":
        hy, hx = spots[int(rng.integers(len(spots)))]
        window[hy - 1 : hy + 1, hx - 1 : hx + 1] = True

    rgb = np.zeros((n, n, 3), dtype=np.int64)
    rgb[mask] = body[fill[mask]]
    solid = mask & ~window
    edge = solid & ~ndimage.binary_erosion(solid, structure=ndimage.generate_binary_structure(2, 1), border_value=0)
    if outlined:
        rgb[edge] = outline
    rgb[window] = background
    interior = solid & ~edge
    details = np.zeros((n, n), dtype=bool)

    if rng.random() < 0.5 and len(body) >= 2:
        size = max(4, n // 5)
        cand = np.argwhere(ndimage.binary_erosion(interior, iterations=size // 2))
        if len(cand):
            cy, cx = cand[int(rng.integers(len(cand)))]
            patch = np.zeros_like(mask)
            patch[cy - size // 2 : cy + size // 2, cx - size // 2 : cx + size // 2] = True
            patch &= interior
            a, b = rng.choice(len(body), size=2, replace=False)
            checker = (yy + xx) % 2 == 0
            rgb[patch & checker] = body[a]
            rgb[patch & ~checker] = body[b]
            details |= patch

    # Isolated 1-px highlights: a cell whose whole 3×3 neighbourhood is one interior colour.
    same = np.ones((n, n), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = np.roll(np.roll(rgb, dy, 0), dx, 1)
            same &= (shifted == rgb).all(-1) & np.roll(np.roll(interior & ~details, dy, 0), dx, 1)
    taken = np.zeros_like(mask)
    for y, x in rng.permutation(np.argwhere(same))[: max(3, n * n // 150)]:
        if not taken[y - 1 : y + 2, x - 1 : x + 2].any():
            rgb[y, x] = highlight
            taken[y, x] = True
    details |= taken

    if kind == "white-interior":
        for size in (1, 2, 3):
            cand = np.argwhere(ndimage.binary_erosion(interior & ~details & ~taken, iterations=size + 1))
            if len(cand):
                cy, cx = cand[int(rng.integers(len(cand)))]
                rgb[cy : cy + size, cx : cx + size] = background
                details[cy : cy + size, cx : cx + size] = size == 1

    rgba = np.zeros((n, n, 4), dtype=np.uint8)
    rgba[mask, :3] = rgb[mask]
    rgba[mask, 3] = 255
    return TrueSprite(rgba=rgba, details=details, background=None if kind == "transparent" else background)


def _largest_component(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    return labels == 1 + int(np.argmax(sizes))


def _edges(rng: np.random.Generator, n: int, pitch: float, phase: float, jitter: float) -> NDArray[np.float64]:
    """The n + 1 cell boundaries along one axis, from ``phase``: uniform, or with jittered cell sizes and one cell
    ``GRID_OFFSET`` larger."""
    sizes = np.full(n, pitch)
    if jitter:
        sizes *= rng.uniform(1 - jitter, 1 + jitter, size=n)
        sizes[int(rng.integers(n // 4, 3 * n // 4))] += GRID_OFFSET * pitch
    return phase + np.concatenate([[0.0], np.cumsum(sizes)])


def _coverage(length: int, edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """(length, n) fraction of image pixel i covered by cell k; cells past either end are clamped to the edge."""
    edges = edges.copy()
    edges[0], edges[-1] = -np.inf, np.inf
    lo = np.arange(length, dtype=np.float64)[:, None]
    return np.clip(np.minimum(lo + 1, edges[None, 1:]) - np.maximum(lo, edges[None, :-1]), 0, 1)


def render(
    sprite: TrueSprite,
    pitch: float,
    phase: tuple[float, float],
    rng: np.random.Generator,
    *,
    blur: float,
    cell_noise: float,
    pixel_noise: float,
    jpeg_quality: int | None,
    jitter: float = 0.0,
) -> Image.Image:
    """Degrade a true sprite the way a diffusion model paints pixel art. A transparent sprite comes out RGBA
    (blurred with premultiplied alpha, never through JPEG); ``jitter`` > 0 makes the grid drift."""
    n = sprite.rgba.shape[0]
    alpha = (sprite.rgba[..., 3:] > 0).astype(np.float64)
    if sprite.background is None:
        colors = np.concatenate([sprite.rgba[..., :3] * alpha, 255 * alpha], axis=-1)
    else:
        colors = np.where(alpha > 0, sprite.rgba[..., :3], np.array(sprite.background)).astype(np.float64)
    colors[..., :3] += rng.normal(0, cell_noise, size=(n, n, 3)) * (alpha if sprite.background is None else 1)
    edges_x, edges_y = _edges(rng, n, pitch, phase[0], jitter), _edges(rng, n, pitch, phase[1], jitter)
    width, height = round(edges_x[-1] - phase[0]), round(edges_y[-1] - phase[1])
    image = np.einsum("yi,ijc,xj->yxc", _coverage(height, edges_y), colors, _coverage(width, edges_x), optimize=True)
    image = ndimage.gaussian_filter(image, sigma=(blur, blur, 0), mode="nearest")
    image[..., :3] += rng.normal(0, pixel_noise, size=(height, width, 3))
    if sprite.background is None:
        coverage = image[..., 3:] / 255
        image[..., :3] = np.where(coverage > 1e-6, image[..., :3] / np.maximum(coverage, 1e-6), 0)
        return Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGBA")
    out = Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGB")
    if jpeg_quality is None:
        return out
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=jpeg_quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def corpus(
    sprites: int = 8,
    pitches: tuple[float, ...] = PITCHES,
    *,
    jpeg: bool = True,
    max_cells: int = 128,
    seed: int = 0,
    kind: SpriteKind = "standard",
    jitter: float = 0.0,
) -> list[CorpusItem]:
    """``sprites`` sprites × ``pitches`` (× PNG and JPEG when ``jpeg``; transparent inputs are PNG only), fully
    determined by ``seed``. ``jitter`` > 0 renders them on drifting grids (see ``JITTER``)."""
    items: list[CorpusItem] = []
    for s in range(sprites):
        for pitch in pitches:
            # The sprite and its size depend on (sprite, pitch, kind); the degradation also on the variant.
            key = [seed, s, round(pitch * 100)] + ([KINDS.index(kind)] if kind != "standard" else [])
            shape_rng = np.random.default_rng(key)
            n = int(shape_rng.integers(24, max(24, min(max_cells, int(MAX_RENDER_SIZE / pitch))) + 1))
            sprite = make_sprite(shape_rng, n, kind)
            for use_jpeg in (False, True) if jpeg and kind != "transparent" else (False,):
                rng = np.random.default_rng([*key, int(use_jpeg)])
                phase = (float(rng.uniform(-0.35, 0.35) * pitch), float(rng.uniform(-0.35, 0.35) * pitch))
                blur = float(rng.uniform(0.5, 1.5))
                quality = int(rng.integers(80, 95)) if use_jpeg else None
                image = render(
                    sprite,
                    pitch,
                    phase,
                    rng,
                    blur=blur,
                    cell_noise=float(rng.uniform(2, 5)),
                    pixel_noise=float(rng.uniform(2, 6)),
                    jpeg_quality=quality,
                    jitter=jitter,
                )
                name = ("" if kind == "standard" else f"{kind}-") + f"s{s}-p{pitch:g}" + ("-jpeg" if use_jpeg else "")
                name += f"-jitter{jitter:g}" if jitter else ""
                items.append(CorpusItem(name, image, sprite, pitch, phase, blur, quality, kind, jitter))
    return items
