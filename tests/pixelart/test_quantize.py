"""Adaptive palettes: near-twins that k-means makes out of one noisy colour merge; two real close shades stay."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixelforge.pixelart import PixelOptions, pixelate
from pixelforge.pixelart.color import pairwise_delta_e, srgb_to_lab
from pixelforge.pixelart.corpus import TrueSprite, render
from pixelforge.pixelart.quantize import adaptive_palette

RED, HIGHLIGHT, INK = (190, 40, 50), (205, 52, 60), (29, 43, 83)  # RED-HIGHLIGHT: ΔE76 4.5


def _cells(rng: np.random.Generator, color: tuple[int, int, int], count: int, noise: float) -> np.ndarray:
    return np.clip(np.rint(np.array(color) + rng.normal(0, noise, size=(count, 3))), 0, 255).astype(np.uint8)


def _nearest(palette: np.ndarray, color: tuple[int, int, int]) -> float:
    return float(pairwise_delta_e(srgb_to_lab(np.array([color])), srgb_to_lab(palette)).min())


def test_one_noisy_colour_stays_one_colour() -> None:
    rng = np.random.default_rng(0)
    palette = adaptive_palette(_cells(rng, RED, 600, 2.5), 16)
    assert len(palette) == 1


def test_two_close_shades_survive_when_the_budget_allows() -> None:
    rng = np.random.default_rng(1)
    cells = np.vstack([_cells(rng, RED, 500, 1.0), _cells(rng, HIGHLIGHT, 120, 1.0), _cells(rng, INK, 200, 1.0)])
    palette = adaptive_palette(cells, 16)
    assert len(palette) == 3
    assert _nearest(palette, RED) < 1.5 and _nearest(palette, HIGHLIGHT) < 1.5
    assert len(adaptive_palette(cells, 2)) == 2  # no budget for the highlight: it merges


def test_a_highlight_on_red_survives_the_pipeline() -> None:
    cells = np.zeros((16, 16, 4), dtype=np.uint8)
    cells[2:14, 2:14] = (*INK, 255)
    cells[3:13, 3:13] = (*RED, 255)
    cells[4:7, 4:8] = (*HIGHLIGHT, 255)
    sprite = TrueSprite(rgba=cells, details=np.zeros((16, 16), dtype=bool), background=(255, 255, 255))
    rng = np.random.default_rng(2)
    image = render(sprite, 8.0, (2.0, -1.5), rng, blur=0.8, cell_noise=1.5, pixel_noise=3.0, jpeg_quality=None)
    result = pixelate(image, PixelOptions(colors=12))
    out = np.asarray(result.sprite)[..., :3]
    assert len(result.palette) == 3
    assert (out[4:7, 4:8] != out[8, 8]).any(axis=-1).all()
    assert _nearest(np.array(result.palette), HIGHLIGHT) < 3


def test_image_of_one_noisy_colour_gives_one_colour() -> None:
    rng = np.random.default_rng(3)
    image = Image.fromarray(_cells(rng, RED, 64 * 64, 3.0).reshape(64, 64, 3))
    assert len(pixelate(image, PixelOptions(colors=16, remove_background=False)).palette) == 1
