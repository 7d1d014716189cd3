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
# A pale body on a pale background (a white ghost on off-white, no outline) can sit within the flood's limit: a few
# ΔE away, inside the border's noise. What gives it away is that its cells agree with each other: averaged over
# their 3×3 neighbourhood (flooded cells only), the background's noise shrinks to a third while a body keeps its
# offset. Flooded cells whose neighbourhood mean lies more than this many standard deviations of the border's
# noise (the Mahalanobis unit above) from the background colour are a body's candidates; the border's own
# neighbourhood means stay below ~1.3 (the 99.9th percentile of a 3-D Gaussian shrunk to a third).
BODY_EVIDENCE = 1.5
# ... or above this percentile of the border cells' own neighbourhood means, when that is higher.
BORDER_PERCENTILE = 99.5
# A body is a connected region of candidates, off the border, at least this large, with cells whose four
# neighbours are all in it: a thin chain along an outline (blur the unmixing left in the background) is no body.
MIN_BODY_CELLS = 9
# A body's edge is settled cell by cell at most this far outside its candidates' bounding box.
_BODY_GROWTH = 2
_FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)
_NEIGHBOURHOOD = np.ones((3, 3))
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


def _log_density(points: NDArray[np.float64], samples: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log density (up to a shared constant) of ``points`` under a Gaussian fitted to ``samples`` (in the whitened
    space of ``_pale_bodies``; a tenth of the border's noise is added per axis, so a flat colour has a spread)."""
    covariance = (np.cov(samples.T) if len(samples) > 3 else np.zeros((3, 3))) + 0.01 * np.eye(3)
    offset = points - samples.mean(axis=0)
    squared = np.einsum("...i,ij,...j->...", offset, np.linalg.inv(covariance), offset)
    return -0.5 * (squared + np.linalg.slogdet(covariance)[1])


def _pale_bodies(whitened: NDArray[np.float64], flooded: BoolArray, ring: BoolArray) -> BoolArray:
    """Cells of ``flooded`` that belong to a body of its own colour (see ``BODY_EVIDENCE``). ``whitened``: each
    cell's offset from the background colour in units of the border's noise (its length is the Mahalanobis
    distance)."""
    if not (flooded & ring).any():
        return np.zeros_like(flooded)
    weight = flooded.astype(np.float64)
    count = ndimage.convolve(weight, _NEIGHBOURHOOD, mode="constant")
    smoothed = (
        np.stack(
            [ndimage.convolve(whitened[..., c] * weight, _NEIGHBOURHOOD, mode="constant") for c in range(3)], axis=-1
        )
        / np.maximum(count, 1)[..., None]
    )
    evidence = np.sqrt((smoothed**2).sum(-1))
    # The border is background: where its own neighbourhood means stray further (noise that is not independent
    # from cell to cell: a grid finer than the art's, a lightness gradient), a body must stand out further still.
    threshold = max(BODY_EVIDENCE, float(np.percentile(evidence[flooded & ring], BORDER_PERCENTILE)))
    candidates = flooded & ~ring & (evidence > threshold)
    border = whitened[flooded & ring]
    labels, _ = ndimage.label(candidates, structure=_FOUR_CONNECTED)
    bodies = np.zeros_like(flooded)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        # The region's edge was drawn on averages that mix body and background: from its interior, the body grows
        # through the flooded cells whose own colour is likelier the body's than the background's, within
        # _BODY_GROWTH cells of the region's bounding box (which bounds the work on a large image).
        box = tuple(slice(max(0, axis.start - _BODY_GROWTH), axis.stop + _BODY_GROWTH) for axis in box)
        region = labels[box] == index
        if region.sum() < MIN_BODY_CELLS:
            continue
        interior = ndimage.binary_erosion(region, structure=_FOUR_CONNECTED)
        near = whitened[box]
        body_like = flooded[box] & (_log_density(near, near[region]) >= _log_density(near, border))
        grown = ndimage.binary_propagation(interior, mask=interior | body_like, structure=_FOUR_CONNECTED)
        # Grown to the border, it was background after all (a gradient): keep only the region itself.
        bodies[box] |= region if (grown & ring[box]).any() else grown
    return bodies


def neighbour_counts(colors: NDArray[np.float64], tolerance: float) -> NDArray[np.int64]:
    """For each Lab colour, how many of ``colors`` lie within ``tolerance`` (ΔE76, itself included), a block of
    rows at a time: a 6000×4000 photo's border has ~20,000 cells, whose full distance matrix would take 3 GB."""
    counts = np.empty(len(colors), dtype=np.int64)
    for start in range(0, len(colors), _NEIGHBOUR_BLOCK):
        block = colors[start : start + _NEIGHBOUR_BLOCK]
        counts[start : start + len(block)] = (pairwise_delta_e(block, colors) <= tolerance).sum(axis=1)
    return counts


def find_background(
    lab: NDArray[np.float64], opaque: BoolArray, tolerance: float, *, enclosed: bool = False, bodies: bool = True
) -> Background | None:
    """The background of a 1× image given as Lab cells, or None when the border has no dominant colour (a
    full-bleed picture) or is already transparent.

    Removed: the cells connected to the border through cells close to the background colour. "Close" is
    measured against the border's own colour spread, at most ``tolerance`` (twice that for a noisy border), and
    tightened when the flood leaks into the sprite. Close cells that form a body of their own colour (a pale sprite
    without an outline, see ``BODY_EVIDENCE``) are not crossed, unless ``bodies`` is False: cells that are not
    art pixels (no grid found), where blurred edges several cells wide agree with their neighbours too. With
    ``enclosed``, also regions of such cells that the flood cannot reach, of at least ``MIN_ENCLOSED_CELLS``
    cells (a ring's hole)."""
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
    # offset · L, with precision = L Lᵀ: its length is the Mahalanobis distance.
    whitened = offset @ np.linalg.cholesky(precision)
    mahalanobis = np.sqrt((whitened**2).sum(-1))
    close = opaque & (np.sqrt((offset**2).sum(-1)) <= widest)

    def flood(limit: float) -> tuple[NDArray[np.int64], NDArray[np.bool_], BoolArray, int]:
        similar = close & (mahalanobis <= limit)
        labels, touching = _flood(similar, ring)
        kept = _pale_bodies(whitened, touching[labels], ring) if bodies else None
        if kept is not None and kept.any():
            labels, touching = _flood(similar & ~kept, ring)
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
