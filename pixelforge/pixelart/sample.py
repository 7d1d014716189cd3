"""One colour per cell, read from the cell's central region on the un-quantised image.

Blur and anti-aliasing contaminate a cell's border with its neighbours' colours; the centre carries the most
of the cell's own. The mean of the central 75 % (per axis) is taken rather than a median because
``deblur.unmix`` then removes the neighbours' share exactly (the mean is linear, so the mixing model holds), and
averaging more pixels leaves less noise for the unmixing to amplify. Measured on the synthetic corpus at
pitches 4-5, this beats the median of the central 50 % on cell accuracy and detail retention."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .grid import Grid

FloatArray = NDArray[np.float32]
# Fraction of the cell (per axis) that is sampled, centred on the cell centre.
CENTRAL_FRACTION = 0.75


@dataclass(frozen=True)
class Cells:
    values: FloatArray  # (rows, cols, C): the mean of each cell's centre
    spread: float  # mean absolute deviation from that mean, over all samples: the within-cell noise
    rows: NDArray[np.int64]  # (rows, m): pixel rows sampled for each cell row
    cols: NDArray[np.int64]  # (cols, m): pixel columns sampled for each cell column
    edges: tuple[NDArray[np.float64], NDArray[np.float64]]  # (x, y) cell boundaries, one more than the cells


def _sample_indices(edges: NDArray[np.float64], m: int, length: int) -> NDArray[np.int64]:
    """(cells, m) pixel indices of the m sample positions evenly spread over each cell's central region."""
    centers = (edges[:-1] + edges[1:]) / 2
    widths = CENTRAL_FRACTION * np.diff(edges)
    offsets = (np.arange(m, dtype=np.float64) + 0.5) / m - 0.5
    return np.clip(np.floor(centers[:, None] + offsets[None, :] * widths[:, None]), 0, length - 1).astype(np.int64)


def sample_cells(pixels: FloatArray, grid: Grid) -> Cells:
    """Sample every cell of ``grid`` on an (H, W, C) image."""
    height, width = pixels.shape[:2]
    edges = grid.edges(0, width), grid.edges(1, height)
    m = max(1, round(CENTRAL_FRACTION * grid.pitch))
    ys = _sample_indices(edges[1], m, height)
    xs = _sample_indices(edges[0], m, width)
    rows, cols = len(ys), len(xs)
    # (rows, my, cols, mx, C) -> (rows, cols, my*mx, C)
    block = pixels[ys[:, :, None, None], xs[None, None, :, :]]
    block = block.transpose(0, 2, 1, 3, 4).reshape(rows, cols, -1, pixels.shape[2])
    values = block.mean(axis=2)
    spread = float(np.abs(block - values[:, :, None, :]).mean())
    return Cells(values=values.astype(np.float32), spread=spread, rows=ys, cols=xs, edges=edges)
