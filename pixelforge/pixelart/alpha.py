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
# Enclosed regions of the background colour smaller than this stay: a 1-px highlight that happens to match a
# white background is art, a 2×2 gap between an arm and a body is background.
MIN_ENCLOSED_CELLS = 4
_FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class Background:
    color: tuple[int, int, int]
    mask: BoolArray  # cells removed


def _border(shape: tuple[int, int]) -> BoolArray:
    ring = np.zeros(shape, dtype=bool)
    ring[0, :], ring[-1, :], ring[:, 0], ring[:, -1] = True, True, True, True
    return ring


def find_background(lab: NDArray[np.float64], opaque: BoolArray, tolerance: float) -> Background | None:
    """The background of a 1× image given as Lab cells, or None when the border has no dominant colour (a
    full-bleed picture) or is already transparent.

    Removed: every cell within ``tolerance`` of the background colour that is connected to the border, plus
    enclosed regions of such cells of at least ``MIN_ENCLOSED_CELLS`` cells."""
    ring = _border(opaque.shape)
    candidates = lab[ring & opaque]
    if len(candidates) < MIN_BORDER_SHARE * ring.sum():
        return None
    support = (pairwise_delta_e(candidates, candidates) <= tolerance).sum(axis=1)
    best = int(np.argmax(support))
    if support[best] < MIN_BORDER_SHARE * ring.sum():
        return None
    members = candidates[pairwise_delta_e(candidates[best : best + 1], candidates)[0] <= tolerance]
    color = members.mean(axis=0)
    # Noise left in flat background cells (dark colours are noisy in Lab, unmixing amplifies pixel noise) can
    # push some past the tolerance: widen it to 3× the members' median distance, at most to twice the request.
    spread = float(np.median(np.sqrt(((members - color) ** 2).sum(-1))))
    tolerance = min(max(tolerance, 3 * spread), 2 * tolerance)
    similar = opaque & (np.sqrt(((lab - color) ** 2).sum(-1)) <= tolerance)
    labels, count = ndimage.label(similar, structure=_FOUR_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    touching = np.unique(labels[ring])
    remove = sizes >= MIN_ENCLOSED_CELLS
    remove[touching] = True
    remove[0] = False
    rgb = lab_to_srgb(color)
    return Background(color=(int(rgb[0]), int(rgb[1]), int(rgb[2])), mask=remove[labels])


def outline_mask(opaque: BoolArray) -> BoolArray:
    """Transparent cells that touch an opaque cell (4-neighbourhood): where a 1-px outline goes."""
    return ndimage.binary_dilation(opaque, structure=_FOUR_CONNECTED) & ~opaque
