"""Quality scores computed on every output, without ground truth."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .color import srgb_to_lab
from .grid import Grid
from .manifest import PixelMetrics

# Reconstruction error is estimated on about this many input pixels per axis (a strided subsample).
_RECONSTRUCTION_SAMPLES = 256


def reconstruction_delta_e(source: NDArray[np.uint8], sprite: NDArray[np.uint8], grid: Grid) -> float:
    """Mean ΔE76 between input pixels and the colour of the cell they fall in, over opaque cells."""
    height, width = source.shape[:2]
    stride = max(1, min(width, height) // _RECONSTRUCTION_SAMPLES)
    ys = np.arange(stride // 2, height, stride)
    xs = np.arange(stride // 2, width, stride)
    rows, cols = sprite.shape[:2]
    cy = np.clip(np.searchsorted(grid.edges(1, height), ys + 0.5, side="right") - 1, 0, rows - 1)
    cx = np.clip(np.searchsorted(grid.edges(0, width), xs + 0.5, side="right") - 1, 0, cols - 1)
    expanded = sprite[cy[:, None], cx[None, :]]
    opaque = expanded[..., 3] == 255
    if not opaque.any():
        return 0.0
    original = source[ys[:, None], xs[None, :], :3][opaque]
    delta = srgb_to_lab(original) - srgb_to_lab(expanded[..., :3][opaque])
    return float(np.sqrt((delta**2).sum(-1)).mean())


def speckle_rate(sprite: NDArray[np.uint8]) -> float:
    """Share of opaque pixels whose RGBA differs from all four neighbours (outside the image counts as different)."""
    opaque = sprite[..., 3] == 255
    if not opaque.any():
        return 0.0
    padded = np.pad(sprite.astype(np.int64), ((1, 1), (1, 1), (0, 0)), constant_values=-1)
    center = padded[1:-1, 1:-1]
    alone = np.ones(opaque.shape, dtype=bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        alone &= (padded[dy : dy + opaque.shape[0], dx : dx + opaque.shape[1]] != center).any(-1)
    return float((alone & opaque).sum() / opaque.sum())


def compute_metrics(
    source: NDArray[np.uint8], sprite: NDArray[np.uint8], grid: Grid, contrast: float, spread: float
) -> PixelMetrics:
    return PixelMetrics(
        grid_contrast=round(contrast, 4),
        cell_spread=round(spread, 4),
        reconstruction_delta_e=round(reconstruction_delta_e(source, sprite, grid), 4),
        speckle_rate=round(speckle_rate(sprite), 4),
    )
