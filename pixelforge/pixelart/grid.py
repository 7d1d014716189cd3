"""Find the pixel grid of fake pixel art: a square pitch (fractional allowed), a phase per axis, a confidence.

The signal is the edge-energy profile per axis: the summed absolute colour difference across each column
(row) boundary. Cell boundaries carry energy; cell interiors only carry noise. Three steps:

1. Autocorrelate each profile. A grid of pitch p puts ACF peaks at p, 2p, 3p, ...; the comb sum
   S(p) = Σ_m ACF(m·p) over a fine pitch grid is highest at the true pitch: its multiples (2p) collect half the
   peaks, its sub-multiples (p/2) add the troughs between peaks, which are negative for a zero-mean profile.
2. Between the best pitch and its sub-multiples, keep the one that explains the edge energy best once the
   share of boundaries a grid covers by chance is subtracted (a finer grid covers more boundaries by chance).
3. The phase of each axis is the argument of the profile's Fourier coefficient at 1/pitch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
PitchSource = Literal["manual", "expected", "detected", "none"]

MIN_PITCH = 2.0
# Fewer cells than this per axis is not a grid worth detecting.
MIN_CELLS = 6
# Search ± this fraction around an expected pitch.
EXPECTED_SPAN = 0.15
# Below this confidence the image is treated as having no grid (already 1×, or not pixel art).
MIN_CONFIDENCE = 0.12
# Half-width (px) of the window around a grid line that counts as "on the line": rasterisation moves an edge by
# up to half a pixel, blur spreads it further.
_LINE_HALF_WIDTH = 1.5
# A coarser grid is preferred when it explains at least this share of what the best grid explains.
_EXPLAINS = 0.75
# One grey level: the smallest step an 8-bit image can show, the floor of grid_contrast's means.
_QUANTUM = 1.0
# Lags read by the coarse pitch search; the refinement then reads every lag for precision.
_COARSE_WINDOW = 384


@dataclass(frozen=True)
class Grid:
    pitch: float  # with ``lines``: the detected mean pitch they were fitted around
    phase: tuple[float, float]  # (x, y) position of one grid line per axis, in [0, pitch)
    confidence: float
    source: PitchSource
    # Cell boundaries fitted per column (x) and per row (y) on a drifting grid; None: the uniform grid.
    lines: tuple[FloatArray, FloatArray] | None = field(default=None, compare=False)

    def edges(self, axis: int, length: int) -> FloatArray:
        """Boundaries of the cells on ``axis`` (0 = x, 1 = y) of an image ``length`` pixels long: one more than
        the cells. The cells are those whose centre lies inside the image, so a partial border cell counts when
        at least half of it is visible. Never crop-and-floor."""
        if self.lines is not None:
            return self.lines[axis]
        count = _count(length, self.pitch, self.phase[axis])
        start = _first_center(self.pitch, self.phase[axis]) - self.pitch / 2
        return start + self.pitch * np.arange(count + 1, dtype=np.float64)

    def cells(self, width: int, height: int) -> tuple[int, int]:
        """(columns, rows)."""
        return len(self.edges(0, width)) - 1, len(self.edges(1, height)) - 1


NO_GRID = Grid(1.0, (0.0, 0.0), 0.0, "none")


def _first_center(pitch: float, phase: float) -> float:
    return (phase + pitch / 2) % pitch


def _count(length: int, pitch: float, phase: float) -> int:
    return max(1, int(np.ceil((length - _first_center(pitch, phase)) / pitch)))


@dataclass(frozen=True)
class EdgeProfiles:
    """Edge energy at each interior column (x) and row (y) boundary: entry b is the boundary at coordinate b + 1."""

    x: FloatArray
    y: FloatArray

    @property
    def size(self) -> tuple[int, int]:
        return len(self.x) + 1, len(self.y) + 1


def edge_profiles(pixels: NDArray[np.floating]) -> EdgeProfiles:
    """Summed absolute colour difference across every column and row boundary of an (H, W, C) image."""
    px = np.abs(np.diff(pixels, axis=1)).sum(axis=(0, 2), dtype=np.float64)
    py = np.abs(np.diff(pixels, axis=0)).sum(axis=(1, 2), dtype=np.float64)
    return EdgeProfiles(px, py)


def detect_grid(profiles: EdgeProfiles, *, pitch: float | None = None, expected_pitch: float | None = None) -> Grid:
    """The grid behind ``profiles``. ``pitch`` fixes the pitch (only the phase is measured); ``expected_pitch``
    narrows the search to ±``EXPECTED_SPAN`` around it."""
    width, height = profiles.size
    # Cell interiors only carry noise: the median boundary is noise, and only energy above it is signal.
    px = np.maximum(profiles.x - np.median(profiles.x), 0.0) if len(profiles.x) else profiles.x
    py = np.maximum(profiles.y - np.median(profiles.y), 0.0) if len(profiles.y) else profiles.y
    if pitch is not None:
        return Grid(pitch, _phases(px, py, pitch), _confidence(px, py, pitch), "manual")
    largest = min(width, height) / MIN_CELLS
    source: PitchSource
    if expected_pitch is not None:
        lo, hi, source = expected_pitch * (1 - EXPECTED_SPAN), expected_pitch * (1 + EXPECTED_SPAN), "expected"
        lo, hi = max(lo, MIN_PITCH), min(hi, largest)
    else:
        lo, hi, source = MIN_PITCH, largest, "detected"
    if hi <= lo:  # too small for any grid (an image a pixel wide has no edge profile to correlate)
        return NO_GRID
    acf = _acf(px, py)
    hi = min(hi, (len(acf) - 2) / 2)
    if hi <= lo:
        return NO_GRID
    best = _comb_search(acf, lo, hi)
    # The comb can tie p with p/k, and JPEG's 8-px blocks add faint lines of their own. The chance-corrected edge
    # score separates them: a grid k times too coarse misses (k-1)/k of the edges. Among the multiples of the
    # comb's best, take the largest pitch that explains nearly as much as the best-scoring one.
    candidates = [best] + [best * k for k in (2, 3, 4) if best * k <= hi] + ([best / 2] if best / 2 >= lo else [])
    candidates = sorted(_comb_search(acf, c * 0.97, c * 1.03) for c in candidates)
    scores = [_confidence(px, py, c) for c in candidates]
    confidence = max(scores)
    if confidence < MIN_CONFIDENCE:
        return Grid(1.0, (0.0, 0.0), confidence, "none")
    chosen, score = max((c, s) for c, s in zip(candidates, scores, strict=True) if s >= _EXPLAINS * confidence)
    return Grid(chosen, _phases(px, py, chosen), score, source)


def grid_contrast(profiles: EdgeProfiles, grid: Grid) -> float:
    """Mean colour step across the boundaries nearest the grid lines over the mean step elsewhere, each in grey
    levels per pixel of boundary and at least ``_QUANTUM``: high for a grid that explains the image, 1 for one
    that doesn't. The floor keeps a clean upscale (no steps off the lines) at the size of its steps instead of
    dividing by zero."""
    width, height = profiles.size
    ratios = []
    for axis, profile, length in ((0, profiles.x, height), (1, profiles.y, width)):
        positions = np.arange(1, len(profile) + 1, dtype=np.float64)
        on_line = _distance_to_nearest(positions, grid.edges(axis, len(profile) + 1)) <= 0.5
        if on_line.all() or not on_line.any():
            continue
        on, off = profile[on_line].mean() / length, profile[~on_line].mean() / length
        ratios.append(max(on, _QUANTUM) / max(off, _QUANTUM))
    return float(np.mean(ratios)) if ratios else 1.0


def _distance_to_nearest(positions: FloatArray, lines: FloatArray) -> FloatArray:
    after = np.clip(np.searchsorted(lines, positions), 1, len(lines) - 1)
    return np.minimum(np.abs(positions - lines[after - 1]), np.abs(lines[after] - positions))


def _acf(px: FloatArray, py: FloatArray) -> FloatArray:
    """Sum of both axes' normalised autocorrelations, lightly smoothed so that a peak split between two integer
    lags by a fractional pitch still reads as one peak."""
    length = min(len(px), len(py))
    total = np.zeros(length)
    for profile in (px, py):
        z = profile - profile.mean()
        size = 1 << int(np.ceil(np.log2(2 * len(z))))
        spectrum = np.fft.rfft(z, size)
        r = np.fft.irfft(spectrum * np.conj(spectrum), size)[:length]
        if r[0] > 0:
            total += r / r[0]
    kernel = np.array([0.25, 0.5, 0.25])
    return np.convolve(total, kernel, mode="same")


def _comb_scores(acf: FloatArray, pitches: FloatArray, max_lag: int) -> FloatArray:
    """Σ_m acf(m·p) - acf((m - ½)·p), over the multiples m·p <= max_lag.

    Subtracting the ACF half a period earlier cancels its slowly varying baseline (a sprite's extent makes the
    whole profile correlate with itself). Summing, rather than averaging, makes 2p and 3p collect only every
    second or third peak; p/k ties with p at best (its extra terms sit on troughs)."""
    counts = np.floor(max_lag / pitches).astype(np.int64)
    owner = np.repeat(np.arange(len(pitches)), counts)
    starts = np.cumsum(counts) - counts
    multiple = np.arange(len(owner)) - starts[owner] + 1
    on = _interpolate(acf, pitches[owner] * multiple)
    off = _interpolate(acf, pitches[owner] * (multiple - 0.5))
    return np.bincount(owner, weights=on - off, minlength=len(pitches)).astype(np.float64, copy=False)


def _interpolate(values: FloatArray, positions: FloatArray) -> FloatArray:
    base = np.minimum(positions.astype(np.int64), len(values) - 2)
    frac = positions - base
    return values[base] * (1 - frac) + values[base + 1] * frac


def _comb_search(acf: FloatArray, lo: float, hi: float) -> float:
    """argmax over p in [lo, hi] of the comb sum: coarse on the first lags, then fine on all of them.

    Each stage steps the pitch so the comb drifts by a bounded amount at the largest lag it reads."""
    max_lag = len(acf) - 1
    window = min(max_lag, _COARSE_WINDOW)
    pitches = _geometric(lo, hi, 1.0 / window)
    best = float(pitches[np.argmax(_comb_scores(acf, pitches, window))])
    span = best / window
    fine = np.linspace(max(lo, best - span), min(hi, best + span), max(3, int(20 * max_lag / window)))
    return float(fine[np.argmax(_comb_scores(acf, fine, max_lag))])


def _geometric(lo: float, hi: float, ratio: float) -> FloatArray:
    count = max(2, int(np.ceil(np.log(hi / lo) / np.log1p(ratio))) + 1)
    return np.geomspace(lo, hi, count)


def _phases(px: FloatArray, py: FloatArray, pitch: float) -> tuple[float, float]:
    return _phase(px, pitch), _phase(py, pitch)


def _phase(profile: FloatArray, pitch: float) -> float:
    positions = np.arange(1, len(profile) + 1, dtype=np.float64)
    coefficient = (profile * np.exp(2j * np.pi * positions / pitch)).sum()
    if abs(coefficient) == 0:
        return 0.0
    return float((np.angle(coefficient) / (2 * np.pi) * pitch) % pitch)


def _line_score(profile: FloatArray, pitch: float, phase: float) -> float:
    """Share of the edge energy within ``_LINE_HALF_WIDTH`` of a grid line, minus the share a uniform spread of
    energy would get: 0 for no grid, close to 1 for sharp edges on a coarse grid."""
    total = profile.sum()
    if total <= 0:
        return 0.0
    positions = np.arange(1, len(profile) + 1, dtype=np.float64)
    offset = (positions - phase) % pitch
    distance = np.minimum(offset, pitch - offset)
    weight = np.clip(1 - distance / _LINE_HALF_WIDTH, 0, 1)
    return float((profile * weight).sum() / total - weight.mean())


def _confidence(px: FloatArray, py: FloatArray, pitch: float) -> float:
    """Mean line score of both axes, scaled so that all edge energy on the lines scores 1."""
    chance = min(1.0, _LINE_HALF_WIDTH / pitch)
    scores = [_line_score(p, pitch, _phase(p, pitch)) for p in (px, py)]
    return float(np.clip(np.mean(scores) / max(1.0 - chance, 1e-9), 0.0, 1.0))
