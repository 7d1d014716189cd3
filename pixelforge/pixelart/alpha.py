"""Binary alpha: background removal on the 1× image, and an optional 1-px outline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .color import lab_to_srgb, pairwise_delta_e

BoolArray = NDArray[np.bool_]
# A colour must cover at least this share of the border ring to be called the background.
MIN_BORDER_SHARE = 0.5
# Enclosed regions of the background colour smaller than this stay even when enclosed removal is asked for: a
# 1-px highlight that happens to match a white background is art.
MIN_ENCLOSED_CELLS = 4
# A cell belongs to the background when its Mahalanobis distance to the background colour, under the border
# cells' own covariance in Lab, is at most this: the border shows how much, and in which direction, the background
# varies (chroma noise, JPEG, a lightness gradient), so a near-white body that differs in lightness only is not it.
SPREAD_LIMIT = 5.0
# The covariance gets at least this standard deviation (ΔE76) per axis: a perfectly flat border has none.
MIN_SPREAD = 1.0
# A flood that takes more than this share of the image, or reaches both sides of an outline cell, has leaked
# into the sprite (a near-white body on a near-white background): it is retried with less tolerance.
MOST_OF_THE_IMAGE = 0.9
# Each retry multiplies the limit by this, down to _LEAST_LIMIT.
_SHRINK = 0.75
_LEAST_LIMIT = 2.0
_FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)
# Rows of the border's distance matrix computed at once: 512 × 20,000 cells of float64 is 80 MB.
_NEIGHBOUR_BLOCK = 512


@dataclass(frozen=True)
class Background:
    color: tuple[int, int, int]
    mask: BoolArray  # cells removed


def _border(shape: tuple[int, int]) -> BoolArray:
    ring = np.zeros(shape, dtype=bool)
    ring[0, :], ring[-1, :], ring[:, 0], ring[:, -1] = True, True, True, True
    return ring


def _flood(similar: BoolArray, ring: BoolArray) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(labels of the 4-connected regions of ``similar``, which labels touch the border)."""
    labels, count = ndimage.label(similar, structure=_FOUR_CONNECTED)
    touching = np.zeros(count + 1, dtype=bool)
    touching[np.unique(labels[ring])] = True
    touching[0] = False
    return labels, touching


def _crossed_outlines(removed: BoolArray, kept: BoolArray) -> int:
    """Kept cells with removed cells on two opposite sides: a line of the sprite with background on both sides.
    A thin feature (an antenna) has a few; a flood that leaked into the sprite through a gap has many."""
    padded = np.pad(removed, 1)
    left, right = padded[1:-1, :-2], padded[1:-1, 2:]
    up, down = padded[:-2, 1:-1], padded[2:, 1:-1]
    return int((kept & ((left & right) | (up & down))).sum())


def neighbour_counts(colors: NDArray[np.float64], tolerance: float) -> NDArray[np.int64]:
    """For each Lab colour, how many of ``colors`` lie within ``tolerance`` (ΔE76, itself included), a block of
    rows at a time: a 6000×4000 photo's border has ~20,000 cells, whose full distance matrix would take 3 GB."""
    counts = np.empty(len(colors), dtype=np.int64)
    for start in range(0, len(colors), _NEIGHBOUR_BLOCK):
        block = colors[start : start + _NEIGHBOUR_BLOCK]
        counts[start : start + len(block)] = (pairwise_delta_e(block, colors) <= tolerance).sum(axis=1)
    return counts


def find_background(
    lab: NDArray[np.float64], opaque: BoolArray, tolerance: float, *, enclosed: bool = False
) -> Background | None:
    """The background of a 1× image given as Lab cells, or None when the border has no dominant colour (a
    full-bleed picture) or is already transparent.

    Removed: the cells connected to the border through cells close to the background colour. "Close" is
    measured against the border's own colour spread, at most ``tolerance`` (twice that for a noisy border), and
    tightened when the flood leaks into the sprite. With ``enclosed``, also regions of such cells that the flood
    cannot reach, of at least ``MIN_ENCLOSED_CELLS`` cells (a ring's hole)."""
    ring = _border(opaque.shape)
    candidates = lab[ring & opaque]
    if len(candidates) < MIN_BORDER_SHARE * ring.sum():
        return None
    support = neighbour_counts(candidates, tolerance)
    best = int(np.argmax(support))
    if support[best] < MIN_BORDER_SHARE * ring.sum():
        return None
    members = candidates[pairwise_delta_e(candidates[best : best + 1], candidates)[0] <= tolerance]
    color = members.mean(axis=0)
    # Noise left in flat background cells (dark colours are noisy in Lab, unmixing amplifies pixel noise) can
    # push some past the requested tolerance: a noisy border may widen it, at most to twice the request.
    spread = float(np.median(np.sqrt(((members - color) ** 2).sum(-1))))
    widest = min(max(tolerance, 3 * spread), 2 * tolerance)
    offset = lab - color
    covariance = np.cov(members.T) if len(members) > 3 else np.zeros((3, 3))
    precision = np.linalg.inv(covariance + MIN_SPREAD**2 * np.eye(3))
    mahalanobis = np.sqrt(np.einsum("...i,ij,...j->...", offset, precision, offset))
    close = opaque & (np.sqrt((offset**2).sum(-1)) <= widest)

    def flood(limit: float) -> tuple[NDArray[np.int64], NDArray[np.bool_], BoolArray, int]:
        labels, touching = _flood(close & (mahalanobis <= limit), ring)
        removed = touching[labels]
        return labels, touching, removed, _crossed_outlines(removed, opaque & ~removed)

    # The strictest flood says how many outline cells legitimately have background on both sides.
    baseline = flood(_LEAST_LIMIT)[3]
    limit = SPREAD_LIMIT
    while True:
        labels, touching, removed, crossed = flood(limit)
        leaked = removed.mean() > MOST_OF_THE_IMAGE or crossed > 2 * baseline + 2
        if not leaked or limit <= _LEAST_LIMIT:
            break
        limit = max(_LEAST_LIMIT, limit * _SHRINK)
    if enclosed:
        sizes = np.bincount(labels.ravel(), minlength=len(touching))
        big = sizes >= MIN_ENCLOSED_CELLS
        big[0] = False
        removed = (touching | big)[labels]
    rgb = lab_to_srgb(color)
    return Background(color=(int(rgb[0]), int(rgb[1]), int(rgb[2])), mask=removed)


def outline_mask(opaque: BoolArray) -> BoolArray:
    """Transparent cells that touch an opaque cell (4-neighbourhood): where a 1-px outline goes."""
    return ndimage.binary_dilation(opaque, structure=_FOUR_CONNECTED) & ~opaque
