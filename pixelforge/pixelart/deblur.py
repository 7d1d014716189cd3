"""Undo the blur between neighbouring cells, so that 1-px details survive small pitches.

A model's soft edges (and JPEG's chroma subsampling) mix each cell's centre with its neighbours. With the grid
known, that mixing is linear and separable: along an axis, the sampled centre of cell j is Σ_k M[j, k] · colour_k,
where M follows from the pitch, the phase, where the samples were taken, and a Gaussian blur σ. σ is estimated
on the image itself: along every line of a busy patch, the pixels must be explained by cells blurred by σ, and
the σ whose least-squares fit leaves the smallest residual wins (pixel noise adds the same residual for every σ).
Luma and chroma get their own σ."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_banded
from scipy.special import ndtr

from .grid import EdgeProfiles, Grid
from .sample import Cells

FloatArray = NDArray[np.float64]
MAX_SIGMA = 3.0
_COARSE_STEP = 0.75
_LINES = 24
# Mixing weights below this are dropped from the banded solve.
_NEGLIGIBLE = 1e-7
# Sub-pixel points per pixel when integrating the blurred cell footprint over a pixel's area.
_SUBSAMPLES = 4
# JPEG blurs chroma more than luma (4:2:0 subsampling, coarser quantisation): measured on the synthetic corpus's
# JPEGs, σ_chroma² - σ_luma² stays below 1.7 px². A larger estimate comes from an image with next to no chroma
# (white, cream and grey sprites): the fit then reads noise, and unmixing by that much blur would amplify the
# noise into false tints.
MAX_CHROMA_EXCESS = 1.5
# The patch spans about this many cells per axis (within 64..256 px): enough edges to fit, cheap to solve.
_PATCH_CELLS = 24


def _footprint(positions: FloatArray, edges: FloatArray, sigma: float) -> FloatArray:
    """(len(positions), len(edges) - 1): share of the pixel starting at each position that comes from each cell
    between consecutive ``edges`` after a Gaussian blur σ. The outermost cells extend to infinity, like the
    border cells of an image."""
    sigma = max(sigma, 0.05)
    edges = edges.astype(np.float64)
    edges[0], edges[-1] = -np.inf, np.inf
    x = positions[:, None] + (np.arange(_SUBSAMPLES) + 0.5)[None, :] / _SUBSAMPLES
    cdf = ndtr((edges[None, None, :] - x[..., None]) / sigma)
    return (cdf[..., 1:] - cdf[..., :-1]).mean(axis=1)


def _busiest_start(profile: FloatArray, size: int) -> int:
    """Start of the ``size``-long stretch with the most edge energy."""
    if len(profile) + 1 <= size:
        return 0
    cumulative = np.concatenate([[0.0], np.cumsum(profile)])
    return int(np.argmax(cumulative[size - 1 :] - cumulative[: -(size - 1)]))


def _residual(lines: FloatArray, start: int, edges: FloatArray, sigma: float) -> float:
    """Least-squares residual of ``lines`` ((L, M), one signal per column, from pixel ``start``) explained by the
    cells between ``edges`` blurred by σ."""
    length = lines.shape[0]
    first = max(0, int(np.searchsorted(edges, start, side="right")) - 1)
    last = min(len(edges) - 2, int(np.searchsorted(edges, start + length - 1, side="right")) - 1)
    positions = start + np.arange(length, dtype=np.float64)
    q, _ = np.linalg.qr(_footprint(positions, edges[first : last + 2], sigma))
    return float((lines**2).sum() - ((q.T @ lines) ** 2).sum())


def estimate_blur(image: NDArray[np.float32], grid: Grid, profiles: EdgeProfiles) -> float:
    """Gaussian σ (image pixels) of the blur in the (H, W, C) ``image`` given its grid, from 0 to ``MAX_SIGMA``."""
    height, width = image.shape[:2]
    size = int(min(256, max(64, _PATCH_CELLS * grid.pitch)))
    x0 = _busiest_start(profiles.x, min(size, width))
    y0 = _busiest_start(profiles.y, min(size, height))
    patch = image[y0 : y0 + size, x0 : x0 + size].astype(np.float64)
    edges_x, edges_y = grid.edges(0, width), grid.edges(1, height)
    # A couple dozen lines per axis are plenty to fit one number, and keep the products small.
    stride = max(1, size // _LINES)
    along_x = patch[::stride].transpose(1, 0, 2).reshape(patch.shape[1], -1)
    along_y = patch[:, ::stride].reshape(patch.shape[0], -1)

    def residual(sigma: float) -> float:
        return _residual(along_x, x0, edges_x, sigma) + _residual(along_y, y0, edges_y, sigma)

    # Coarse steps, then halve the step around the best twice; the parabola through the last three points
    # gives the estimate.
    step = _COARSE_STEP
    sigmas = np.arange(0.0, MAX_SIGMA + 1e-9, step)
    values = {float(s): residual(float(s)) for s in sigmas}
    best = min(values, key=values.__getitem__)
    for _ in range(2):
        step /= 2
        for s in (best - step, best + step):
            if 0.0 <= s <= MAX_SIGMA and s not in values:
                values[s] = residual(s)
        best = min(values, key=values.__getitem__)
    if best - step in values and best + step in values:
        a, b, c = values[best - step], values[best], values[best + step]
        curvature = a - 2 * b + c
        if curvature > 0:
            best += float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5)) * step
    return float(np.clip(best, 0.0, MAX_SIGMA))


def chroma_blur_bound(luma_sigma: float) -> float:
    """The most chroma blur to undo in an image whose luma is blurred by ``luma_sigma``."""
    return float(np.hypot(luma_sigma, MAX_CHROMA_EXCESS))


def _mixing(edges: FloatArray, samples: NDArray[np.int64], sigma: float) -> FloatArray:
    """(count, count): M[j, k] = share of cell k in the mean of cell j's samples."""
    count, m = samples.shape
    weights = _footprint(samples.ravel().astype(np.float64), edges, sigma)
    return weights.reshape(count, m, count).mean(axis=1)


def _solve_banded(matrix: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve ``matrix @ x = rhs`` for a mixing matrix, which only couples cells a few apart: a banded solve is
    linear in the number of cells (a dense one is cubic and, on small matrices, mostly threading overhead)."""
    rows, cols = np.nonzero(np.abs(matrix) > _NEGLIGIBLE)
    width = int(np.abs(rows - cols).max(initial=0))
    n = len(matrix)
    bands = np.zeros((2 * width + 1, n))
    for offset in range(-width, width + 1):
        diagonal = np.diagonal(matrix, offset)
        if offset >= 0:
            bands[width - offset, offset:] = diagonal
        else:
            bands[width - offset, : n + offset] = diagonal
    return solve_banded((width, width), bands, rhs)


def unmix(values: NDArray[np.float32], cells: Cells, sigma: float) -> NDArray[np.float32]:
    """Invert the separable mixing of (rows, cols, C) cell values sampled as ``cells`` were."""
    n_rows, n_cols, channels = values.shape
    my = _mixing(cells.edges[1], cells.rows, sigma)
    mx = _mixing(cells.edges[0], cells.cols, sigma)
    out = _solve_banded(my, values.reshape(n_rows, -1).astype(np.float64)).reshape(n_rows, n_cols, channels)
    out = _solve_banded(mx, out.transpose(1, 0, 2).reshape(n_cols, -1)).reshape(n_cols, n_rows, channels)
    return out.transpose(1, 0, 2).astype(np.float32)
