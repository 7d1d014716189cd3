"""Background removal by flood fill from the border (enclosed background only when asked), and the outline."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixelforge.pixelart import PixelOptions, pixelate
from pixelforge.pixelart.alpha import find_background, neighbour_counts
from pixelforge.pixelart.color import pairwise_delta_e

BG, RING, BODY, SPARK = (40, 200, 90), (20, 20, 40), (220, 60, 60), (40, 200, 90)


def _ring_sprite() -> np.ndarray:
    """16×16 cells: background, a dark square ring with a 4×4 hole of background, a body, and one 1-px
    "sparkle" inside the body that happens to have the background colour."""
    cells = np.zeros((16, 16, 3), dtype=np.uint8)
    cells[:] = BG
    cells[3:13, 3:13] = RING
    cells[4:12, 4:12] = BODY
    cells[6:10, 6:10] = RING
    cells[7:9, 7:9] = BG  # enclosed 2×2 hole
    cells[5, 10] = SPARK  # enclosed single cell: kept
    return cells


def _render(cells: np.ndarray, pitch: int = 6) -> Image.Image:
    return Image.fromarray(cells).resize((cells.shape[1] * pitch, cells.shape[0] * pitch), Image.Resampling.NEAREST)


def test_border_background_becomes_transparent_and_enclosed_background_stays() -> None:
    result = pixelate(_render(_ring_sprite()), PixelOptions(pitch=6))
    alpha = np.asarray(result.sprite)[..., 3]
    assert result.sprite.size == (16, 16)
    assert (alpha[:3] == 0).all() and (alpha[:, :3] == 0).all()
    assert (alpha[3:13, 3:13] == 255).all()
    assert result.manifest.background == "#28C85A"


def test_enclosed_removal_clears_holes_of_four_cells_or_more() -> None:
    result = pixelate(_render(_ring_sprite()), PixelOptions(pitch=6, remove_enclosed=True))
    alpha = np.asarray(result.sprite)[..., 3]
    assert (alpha[7:9, 7:9] == 0).all()
    assert alpha[5, 10] == 255
    assert (alpha[3:13, 3:13] == 255).sum() == 100 - 4


def test_background_removal_can_be_turned_off() -> None:
    result = pixelate(_render(_ring_sprite()), PixelOptions(pitch=6, remove_background=False))
    assert (np.asarray(result.sprite)[..., 3] == 255).all()
    assert result.manifest.background is None


def test_full_bleed_image_keeps_everything() -> None:
    rng = np.random.default_rng(0)
    cells = rng.choice(np.array([BG, RING, BODY], dtype=np.uint8), size=(12, 12))
    cells[0, :] = cells[-1, :] = RING  # the border has no dominant background: 2 of 3 colours on the rest
    cells[:, 0], cells[:, -1] = BODY, BG
    result = pixelate(_render(cells), PixelOptions(pitch=6))
    assert result.manifest.background is None


def test_outline_surrounds_the_opaque_shape() -> None:
    result = pixelate(_render(_ring_sprite()), PixelOptions(pitch=6, outline="#FFFFFF", remove_enclosed=True))
    sprite = np.asarray(result.sprite)
    assert tuple(sprite[2, 5]) == (255, 255, 255, 255)
    assert tuple(sprite[1, 5]) == (0, 0, 0, 0)
    assert tuple(sprite[7, 7][:3]) == (255, 255, 255)  # the enclosed hole is outlined too
    assert "#FFFFFF" in result.manifest.palette


def test_outline_snaps_to_a_fixed_palette() -> None:
    result = pixelate(_render(_ring_sprite()), PixelOptions(pitch=6, palette="pico-8", outline="#FEFEFE"))
    assert tuple(np.asarray(result.sprite)[2, 5]) == (255, 241, 232, 255)


def test_input_alpha_is_kept_binary() -> None:
    cells = np.zeros((10, 10, 4), dtype=np.uint8)
    cells[3:7, 3:7] = (*BODY, 200)
    cells[4, 4] = (*RING, 255)
    image = Image.fromarray(cells, "RGBA").resize((50, 50), Image.Resampling.NEAREST)
    sprite = np.asarray(pixelate(image, PixelOptions(pitch=5)).sprite)
    assert sprite.shape[:2] == (10, 10)
    assert ((sprite[..., 3] == 255) == (cells[..., 3] > 0)).all()


def test_a_flood_that_leaks_through_a_gap_in_the_outline_is_tightened() -> None:
    """A body ΔE 3.5 from the background, outlined but for one cell: the first flood (Mahalanobis 5) pours in
    and reaches both sides of the outline; the retried, tighter one stops at the body."""
    lab = np.zeros((20, 20, 3))
    lab[..., 0] = 95.0
    lab[4:16, 4:16, 0] = 20.0  # the outline
    lab[5:15, 5:15, 0] = 91.5  # the body
    lab[4, 9, 0] = 95.0  # the gap
    background = find_background(lab, np.ones((20, 20), dtype=bool), 12.0)
    assert background is not None
    assert not background.mask[5:15, 5:15].any()
    assert background.mask[:4].all() and background.mask[4, 9]


def _pale_scene(rng: np.random.Generator, background_noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """40×40 Lab cells of an off-white background (L 95.5, with ``background_noise`` added) and a white disc
    without an outline (L 99.2, its own cell noise): ΔE 5.8, well inside the flood's first limit."""
    lab = np.empty((40, 40, 3))
    lab[:] = (95.5, -0.2, 3.7)
    lab += background_noise
    yy, xx = np.mgrid[0:40, 0:40]
    body = (yy - 20) ** 2 + (xx - 19) ** 2 <= 11**2
    lab[body] = np.array([99.2, 0.0, 0.0]) + rng.normal(0, (0.6, 1.3, 1.3), (int(body.sum()), 3))
    return lab, body


def test_a_pale_body_without_an_outline_is_not_flooded() -> None:
    """Issue 31: the body is a tight cluster a few ΔE from the background and one connected region: it stays, and
    the background around it goes."""
    rng = np.random.default_rng(5)
    lab, body = _pale_scene(rng, rng.normal(0, (0.9, 2.2, 2.2), (40, 40, 3)))
    background = find_background(lab, np.ones((40, 40), dtype=bool), 12.0)
    assert background is not None
    assert background.mask[body].mean() <= 0.02
    assert background.mask[~body].mean() >= 0.98


def test_noise_shared_by_neighbouring_cells_makes_no_body() -> None:
    """Background noise in 4×4 blocks (a grid four times finer than the art's) drifts as far as a pale body in
    places, but the border drifts as much: no block is taken for a body."""
    rng = np.random.default_rng(6)
    blocks = np.repeat(np.repeat(rng.normal(0, (0.9, 2.2, 2.2), (10, 10, 3)), 4, axis=0), 4, axis=1)
    lab, body = _pale_scene(rng, blocks)
    lab[body] = (30.0, 10.0, -20.0)  # a dark body this time: everything else is background
    background = find_background(lab, np.ones((40, 40), dtype=bool), 12.0)
    assert background is not None
    assert (background.mask == ~body).all()


def test_a_thin_chain_of_off_colour_cells_along_an_outline_is_background() -> None:
    """Blur the unmixing left next to an outline tints a one-cell chain of background: a chain is no body."""
    lab = np.zeros((20, 20, 3))
    lab[..., 0] = 95.0
    lab[5:15, 5:15, 0] = 20.0  # an outlined dark sprite
    chain = np.zeros((20, 20), dtype=bool)
    chain[4:16, 4:16] = True
    chain[5:15, 5:15] = False
    lab[chain, 0] = 91.0  # ΔE 4 darker, all the way round
    background = find_background(lab, np.ones((20, 20), dtype=bool), 12.0)
    assert background is not None
    assert background.mask[chain].all()
    assert not background.mask[5:15, 5:15].any()


def test_neighbour_counts_in_blocks_equal_the_whole_distance_matrix() -> None:
    rng = np.random.default_rng(3)
    colors = np.concatenate([rng.normal((60, 10, -20), 4, (900, 3)), rng.uniform(0, 100, (400, 3))])  # > 2 blocks
    whole = (pairwise_delta_e(colors, colors) <= 12.0).sum(axis=1)
    assert np.array_equal(neighbour_counts(colors, 12.0), whole)
    assert neighbour_counts(colors[:1], 12.0).tolist() == [1]  # itself
