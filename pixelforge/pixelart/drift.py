"""Cell boundaries per column and per row, for grids that drift.

Diffusion "pixel art" rarely keeps one exact pitch: columns are a pixel wider here than there, rows are offset.
A single pitch and phase then misplace cells far from where they fit. Along each axis, dynamic programming picks
the boundaries that collect the most edge energy while each gap stays near the detected mean pitch (a cost for
deviating from it keeps flat stretches, which carry no edges, at the mean pitch). The fitted boundaries replace
the uniform grid only when they explain clearly more edge energy than it does and the cells they delimit are
flatter: noise has edges everywhere for the fit to collect, but no cells.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from .grid import EdgeProfiles, Grid
from .sample import sample_cells

FloatArray = NDArray[np.float64]
# A gap between two fitted boundaries stays within these multiples of the mean pitch: cells that jitter by ±15 %,
# and a row or column offset by up to half a pitch.
MIN_GAP, MAX_GAP = 0.75, 1.6
# The fitted boundaries must collect this much more edge energy than the uniform grid to replace it, and leave at
# most this share of its within-cell spread (on the corpus: 0.2-0.9 on drifting grids, 0.97-1.01 on noise).
MIN_GAIN = 1.1
MAX_SPREAD_RATIO = 0.95
# Cost of a gap: _STIFFNESS · |gap / pitch - 1| ** _POWER, in units of a typical grid line's edge energy. A
# little less than linear, so one row offset by half a pitch costs less than two rows off by a quarter and stays
# one row. Measured on the drifting corpus slice: power 0.8 and stiffness 2 beat 0.5, 2 (quadratic), 1 and 4.
_STIFFNESS = 2.0
_POWER = 0.8
_SMOOTHING = np.array([0.25, 0.5, 0.25])


def fit_drift(pixels: NDArray[np.floating], profiles: EdgeProfiles, grid: Grid) -> Grid:
    """``grid`` with boundaries fitted per column and per row where they explain the (H, W, C) image ``pixels``
    better, else as is."""
    width, height = profiles.size
    fitted = [
        _fit_axis(profile, grid.edges(axis, length), grid.pitch, length)
        for axis, profile, length in ((0, profiles.x, width), (1, profiles.y, height))
    ]
    if fitted[0] is None and fitted[1] is None:
        return grid
    x = fitted[0] if fitted[0] is not None else grid.edges(0, width)
    y = fitted[1] if fitted[1] is not None else grid.edges(1, height)
    drifting = replace(grid, lines=(x, y))
    if sample_cells(pixels, drifting).spread > MAX_SPREAD_RATIO * sample_cells(pixels, grid).spread:
        return grid
    return drifting


def _fit_axis(profile: FloatArray, uniform: FloatArray, pitch: float, length: int) -> FloatArray | None:
    """Fitted boundaries along one axis (the convention of ``Grid.edges``), or None when the uniform ones
    explain the profile as well."""
    if len(profile) < 2:
        return None
    # score[c]: the edge energy above the noise (the median boundary) at image coordinate c, lightly smoothed so
    # that an edge split between two boundaries by a fractional position still counts at either.
    signal = np.convolve(np.maximum(profile - np.median(profile), 0.0), _SMOOTHING, mode="same")
    score = np.concatenate([[0.0], signal, [0.0]])
    inside = uniform[(uniform > 0) & (uniform < length)]
    uniform_energy = float(np.interp(inside, np.arange(length + 1), score).sum())
    if uniform_energy <= 0 or len(inside) == 0:
        return None
    score /= uniform_energy / len(inside)
    lines = _best_lines(score, pitch, length)
    if lines is None or score[lines].sum() < MIN_GAIN * len(inside):
        return None
    edges = lines.astype(np.float64)
    # The partial cells at either end count when at least half of them is visible, as on the uniform grid.
    if edges[0] >= pitch / 2:
        edges = np.concatenate([[edges[0] - pitch], edges])
    if length - edges[-1] >= pitch / 2:
        edges = np.concatenate([edges, [edges[-1] + pitch]])
    return edges if len(edges) >= 2 else None


def _best_lines(score: FloatArray, pitch: float, length: int) -> NDArray[np.int64] | None:
    """Integer boundaries 1..length-1 maximising Σ score − Σ cost(gap), gaps within
    [MIN_GAP, MAX_GAP] · pitch; the first and last within one largest gap of the image's ends."""
    lo, hi = max(1, int(np.ceil(MIN_GAP * pitch))), max(1, int(np.floor(MAX_GAP * pitch)))
    if hi < lo:
        return None
    gaps = np.arange(lo, hi + 1)
    cost = _STIFFNESS * np.abs(gaps / pitch - 1.0) ** _POWER
    best = np.full(length, -np.inf)
    previous = np.full(length, -1, dtype=np.int64)
    for c in range(1, length):
        starts = c - gaps
        valid = starts >= 1
        options = np.where(valid, best[np.maximum(starts, 0)] - cost, -np.inf)
        pick = int(np.argmax(options))
        from_start = 0.0 if c <= hi else -np.inf  # the first boundary: the cell before it is partial
        if options[pick] > from_start:
            best[c], previous[c] = score[c] + options[pick], starts[pick]
        else:
            best[c] = score[c] + from_start
    ends = np.arange(max(1, length - hi), length)
    end = int(ends[np.argmax(best[ends])])
    if not np.isfinite(best[end]):
        return None
    lines = [end]
    while previous[lines[-1]] >= 0:
        lines.append(int(previous[lines[-1]]))
    return np.array(lines[::-1], dtype=np.int64)
