"""Colours after downscaling: an adaptive palette by k-means in CIELAB, or a fixed palette, and the mapping.

Everything is deterministic: k-means++ seeding uses a fixed seed and ties break by index, so the same cells
give the same palette."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .color import lab_to_srgb, pairwise_delta_e, srgb_to_lab

FloatArray = NDArray[np.float64]
# No two delivered colours are closer than this (ΔE76): closer than this, nobody sees two colours.
MIN_DISTINCT_DELTA_E = 3.0
# Adaptive palettes merge colours closer than this unless they form two modes: k-means splits one noisy colour
# into near-twins, which shows as speckle. Palettes drawn by artists keep ramps wider (DB32's closest pair is 8.5,
# SLSO8's 7.7); on the synthetic corpus this halves speckle and the colour count at equal cell accuracy.
NOISE_MERGE_DELTA_E = 6.0
# Two close colours stay apart when the colours halfway between them weigh less than this share of those at
# either one (each counted within a window of this share of their distance).
_DIP = 0.5
_MODE_WINDOW = 0.3
# With the count left to us, merge a little more eagerly.
AUTO_MERGE_DELTA_E = 8.0
AUTO_MAX_COLORS = 32
_SEED = 0x5EED
_ITERATIONS = 25

# 4×4 Bayer matrix, thresholds in (0, 1).
BAYER_4 = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float64) + 0.5) / 16


def unique_colors(rgb: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """(unique colours (n, 3), counts, inverse index) of an (N, 3) uint8 array."""
    packed = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    keys, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    colors = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1).astype(np.uint8)
    return colors, counts, inverse


def count_colors(rgb: NDArray[np.uint8]) -> int:
    """Number of distinct colours in an (N, 3) uint8 array (a 16 M-entry bitmap: linear time, no sort)."""
    packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2]
    seen = np.zeros(1 << 24, dtype=bool)
    seen[packed] = True
    return int(np.count_nonzero(seen))


def _kmeans(lab: FloatArray, weights: FloatArray, k: int) -> FloatArray:
    """Weighted Lloyd iterations from a seeded k-means++ start. Returns k (or fewer) centroids."""
    rng = np.random.default_rng(_SEED)
    centers = [lab[int(np.argmax(weights))]]
    nearest = ((lab - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        score = nearest * weights
        if score.sum() <= 0:
            break
        pick = int(rng.choice(len(lab), p=score / score.sum()))
        centers.append(lab[pick])
        nearest = np.minimum(nearest, ((lab - lab[pick]) ** 2).sum(1))
    c = np.array(centers)
    for _ in range(_ITERATIONS):
        labels = np.argmin(pairwise_delta_e(lab, c), axis=1)
        mass = np.bincount(labels, weights=weights, minlength=len(c))
        keep = mass > 0
        sums = np.stack([np.bincount(labels, weights=weights * lab[:, i], minlength=len(c)) for i in range(3)], 1)
        updated = sums[keep] / mass[keep, None]
        if updated.shape == c.shape and np.allclose(updated, c, atol=1e-3):
            break
        c = updated
    return c


def _two_modes(lab: FloatArray, weights: FloatArray, a: FloatArray, b: FloatArray) -> bool:
    """Whether the colours around ``a`` and ``b`` form two modes: few of them lie halfway between the two.

    k-means cuts one noisy colour into two halves whose colours are densest at the cut; two real shades (a
    highlight on red) leave a dip there."""
    axis = b - a
    t = ((lab - a) @ axis) / max(float(axis @ axis), 1e-12)
    width = _MODE_WINDOW / 2

    def density(center: float) -> float:
        return float(weights[np.abs(t - center) <= width].sum())

    return density(0.5) < _DIP * min(density(0.0), density(1.0))


def _merge_close(lab: FloatArray, weights: FloatArray, centers: FloatArray, threshold: float) -> NDArray[np.uint8]:
    """Merge the closest pair of palette colours (as delivered, i.e. rounded to sRGB) closer than ``threshold``,
    re-fitting after each merge, until none is left. A pair at least ``MIN_DISTINCT_DELTA_E`` apart whose colours
    form two modes is two shades of the art, not a split colour, and stays. Returns the palette as uint8 sRGB."""
    while True:
        labels = np.argmin(pairwise_delta_e(lab, centers), axis=1)
        mass = np.bincount(labels, weights=weights, minlength=len(centers))
        used = mass > 0
        sums = np.stack([np.bincount(labels, weights=weights * lab[:, i], minlength=len(centers)) for i in range(3)], 1)
        centers = sums[used] / mass[used, None]
        mass = mass[used]
        rgb = lab_to_srgb(centers)
        delivered = srgb_to_lab(rgb)
        d = pairwise_delta_e(delivered, delivered)
        d[np.tril_indices(len(d))] = np.inf
        nearest = np.argmin(pairwise_delta_e(lab, centers), axis=1)
        pair = None
        for flat in np.argsort(d, axis=None, kind="stable"):
            i, j = np.unravel_index(int(flat), d.shape)
            if d[i, j] >= threshold:
                break
            members = (nearest == i) | (nearest == j)
            if d[i, j] < MIN_DISTINCT_DELTA_E or not _two_modes(lab[members], weights[members], centers[i], centers[j]):
                pair = (i, j)
                break
        if pair is None:
            return rgb
        i, j = pair
        merged = (centers[i] * mass[i] + centers[j] * mass[j]) / (mass[i] + mass[j])
        centers = np.vstack([np.delete(centers, [i, j], axis=0), merged])


def adaptive_palette(rgb: NDArray[np.uint8], colors: int | None) -> NDArray[np.uint8]:
    """A palette of at most ``colors`` (None: automatic) for the (N, 3) uint8 colours ``rgb``."""
    unique, counts, _ = unique_colors(rgb)
    lab = srgb_to_lab(unique)
    weights = counts.astype(np.float64)
    k = min(AUTO_MAX_COLORS if colors is None else colors, len(unique))
    threshold = AUTO_MERGE_DELTA_E if colors is None else NOISE_MERGE_DELTA_E
    return _merge_close(lab, weights, _kmeans(lab, weights, k), threshold)


def distinct_palette(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A fixed palette with near-duplicates (closer than ``MIN_DISTINCT_DELTA_E``) dropped, first one kept."""
    lab = srgb_to_lab(rgb)
    keep: list[int] = []
    for i in range(len(rgb)):
        if all(np.sqrt(((lab[i] - lab[j]) ** 2).sum()) >= MIN_DISTINCT_DELTA_E for j in keep):
            keep.append(i)
    return rgb[keep]


def map_to_palette(
    rgb: NDArray[np.uint8], palette: NDArray[np.uint8], dither_positions: NDArray[np.int64] | None = None
) -> NDArray[np.int64]:
    """Palette index of each (N, 3) colour: the nearest by ΔE76, or, with ``dither_positions`` ((N, 2) row/col),
    a 4×4 Bayer choice between the two nearest colours in proportion to where the colour lies between them."""
    unique, _, inverse = unique_colors(rgb)
    lab = srgb_to_lab(unique)
    pal = srgb_to_lab(palette)
    d = pairwise_delta_e(lab, pal)
    order = np.argsort(d, axis=1, kind="stable")
    first = order[:, 0][inverse]
    if dither_positions is None or len(palette) < 2:
        return first
    second = order[:, 1][inverse]
    a, b = pal[first], pal[second]
    x = lab[inverse]
    axis = b - a
    t = np.clip(((x - a) * axis).sum(1) / np.maximum((axis * axis).sum(1), 1e-9), 0.0, 1.0)
    threshold = BAYER_4[dither_positions[:, 0] % 4, dither_positions[:, 1] % 4]
    return np.where(t > threshold, second, first)
