"""Grids that drift: cell boundaries fitted per column and per row, the uniform grid kept when it fits as well."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelforge.pixelart import PixelOptions, pixelate
from pixelforge.pixelart.corpus import corpus
from pixelforge.pixelart.drift import fit_drift
from pixelforge.pixelart.evaluate import score
from pixelforge.pixelart.grid import EdgeProfiles, Grid


def _profile(lines: np.ndarray, length: int, rng: np.random.Generator, edges: np.ndarray | None = None) -> np.ndarray:
    """Edge energy at boundaries 1..length-1: noise, plus an edge at the true lines marked in ``edges`` (the
    others separate two cells of one colour)."""
    profile = rng.uniform(0, 1, size=length - 1)
    for line, edge in zip(lines, np.ones(len(lines), dtype=bool) if edges is None else edges, strict=True):
        position = int(np.rint(line))
        if edge and 1 <= position <= length - 1:
            profile[position - 1] += rng.uniform(20, 40)
    return profile


def _cells(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (H, W, 1) image of flat random cells between the boundaries ``x`` and ``y``."""
    columns = np.searchsorted(x, np.arange(int(x[-1])) + 0.5) - 1
    rows = np.searchsorted(y, np.arange(int(y[-1])) + 0.5) - 1
    values = rng.uniform(0, 255, size=(len(y), len(x), 1))
    return values[rows[:, None], columns[None, :]]


def _uniform(pitch: float) -> Grid:
    return Grid(pitch, (0.0, 0.0), 0.9, "manual")


def test_a_uniform_grid_stays_uniform() -> None:
    rng = np.random.default_rng(0)
    lines = np.arange(0, 401, 10.0)
    profiles = EdgeProfiles(_profile(lines, 400, rng), _profile(lines, 400, rng))
    grid = fit_drift(_cells(lines, lines, rng), profiles, _uniform(10.0))
    assert grid.lines is None


def test_drifting_boundaries_are_found() -> None:
    """Boundaries with an edge within a pixel; those between two cells of one colour within a third of a cell."""
    rng = np.random.default_rng(1)
    sizes = 10.0 * rng.uniform(0.85, 1.15, size=40)
    sizes[17] += 3.5  # an offset: every boundary after it moves
    lines = np.concatenate([[0.0], np.cumsum(sizes)])
    length = int(lines[-1])
    edges = rng.random(len(lines)) < 0.7
    profiles = EdgeProfiles(_profile(lines, length, rng, edges), _profile(lines, length, rng, edges))
    grid = fit_drift(_cells(lines, lines, rng), profiles, _uniform(10.0))
    assert grid.lines is not None
    # The first and last edges may lie anywhere in the partial cells at the ends (they extend to the border).
    inside = (lines > 5) & (lines < length - 5)
    for fitted in grid.lines:
        assert len(fitted) == len(lines)
        found = fitted[(fitted > 5) & (fitted < length - 5)]
        assert len(found) == inside.sum()
        error = np.abs(found - lines[inside])
        assert error[edges[inside]].max() <= 1.0
        assert error.max() <= 10.0 / 3


@pytest.mark.parametrize("pitch", [8.0, 21.33])
def test_jittered_sprites_are_read_cell_by_cell_with_the_pitch_known(pitch: float) -> None:
    item = corpus(sprites=1, pitches=(pitch,), jpeg=False, max_cells=32, seed=7, jitter=0.15)[0]
    fitted = pixelate(item.image, PixelOptions(colors=16, pitch=pitch))
    uniform = pixelate(item.image, PixelOptions(colors=16, pitch=pitch, adaptive_grid=False))
    assert fitted.manifest.grid_fit == "per-line" and uniform.manifest.grid_fit == "uniform"
    best, plain = score(item, fitted.sprite, pitch), score(item, uniform.sprite, pitch)
    assert best.size_exact
    assert best.cell_accuracy >= 0.97
    assert plain.cell_accuracy < best.cell_accuracy - 0.03


@pytest.mark.parametrize("seed", range(4))
def test_noise_with_a_given_pitch_keeps_the_uniform_grid(seed: int) -> None:
    """Noise has edges everywhere: fitted lines collect more of them, but the cells are no flatter for it."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8))
    result = pixelate(image, PixelOptions(pitch=4, remove_background=False))
    assert result.manifest.grid_fit == "uniform"
    assert result.sprite.size == (8, 8)
