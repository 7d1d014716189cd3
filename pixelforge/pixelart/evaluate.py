"""Scores against ground truth (the synthetic corpus): size exact, pitch error, cell accuracy, detail retention."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .color import delta_e, srgb_to_lab
from .corpus import CorpusItem

# A cell is right when it is transparent where the truth is, or opaque and within this ΔE76 of the truth.
CELL_TOLERANCE = 10.0


@dataclass(frozen=True)
class Score:
    size_exact: bool
    pitch_error: float  # |detected - true| / true
    cell_accuracy: float
    detail_retention: float  # the cell accuracy over 1-px detail cells only
    colors: int


def _correct_cells(sprite: NDArray[np.uint8], truth: NDArray[np.uint8]) -> NDArray[np.bool_]:
    out_opaque, true_opaque = sprite[..., 3] == 255, truth[..., 3] == 255
    close = delta_e(srgb_to_lab(sprite[..., :3]), srgb_to_lab(truth[..., :3])) <= CELL_TOLERANCE
    return np.where(true_opaque, out_opaque & close, ~out_opaque)


def score(item: CorpusItem, sprite: Image.Image, pitch: float) -> Score:
    """Score a 1× sprite against ``item``'s truth. A sprite of the wrong size is first resized (nearest) to the
    truth's size, which is how a user would see it next to the original."""
    truth = item.truth.rgba
    n_rows, n_cols = truth.shape[:2]
    size_exact = sprite.size == (n_cols, n_rows)
    resized = sprite if size_exact else sprite.resize((n_cols, n_rows), Image.Resampling.NEAREST)
    array = np.asarray(resized.convert("RGBA"))
    correct = _correct_cells(array, truth)
    details = item.truth.details
    colors = len(np.unique(array[array[..., 3] == 255][:, :3], axis=0))
    return Score(
        size_exact=size_exact,
        pitch_error=abs(pitch - item.pitch) / item.pitch,
        cell_accuracy=float(correct.mean()),
        detail_retention=float(correct[details].mean()) if details.any() else 1.0,
        colors=colors,
    )
