"""The six invariants of docs/pixel-art.md, on every output: the corpus slice and seeded random images × options."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from pixelforge.pixelart import PixelOptions, PixelResult, load_palette, pixelate
from pixelforge.pixelart.color import pairwise_delta_e, srgb_to_lab
from pixelforge.pixelart.corpus import CorpusItem


def check_invariants(result: PixelResult, options: PixelOptions) -> None:
    sprite = np.asarray(result.sprite)
    upscaled = np.asarray(result.upscaled)
    factor = result.manifest.upscale
    # 1. One pixel per cell, and the upscaled copy is an exact integer multiple.
    assert result.sprite.size == tuple(result.manifest.size)
    assert result.upscaled.size == (result.sprite.width * factor, result.sprite.height * factor)
    # 2. Every factor×factor block of the upscaled copy is one RGBA value.
    assert np.array_equal(upscaled, np.repeat(np.repeat(sprite, factor, axis=0), factor, axis=1))
    # 3. At most the requested count, or every opaque pixel exactly in the fixed palette.
    opaque = sprite[..., 3] == 255
    used = {tuple(int(v) for v in c) for c in sprite[opaque][:, :3]}
    assert used == set(result.palette)
    if options.palette is not None:
        assert used <= set(load_palette(options.palette)[1])
    elif options.colors is not None:
        assert len(used) <= options.colors
    # 4. Binary alpha, one canonical RGB for transparent pixels.
    assert set(np.unique(sprite[..., 3]).tolist()) <= {0, 255}
    assert not sprite[~opaque][:, :3].any()
    # 5. No two used colours closer than ΔE76 3.
    if len(used) > 1:
        lab = srgb_to_lab(np.array(sorted(used)))
        distance = pairwise_delta_e(lab, lab)
        np.fill_diagonal(distance, np.inf)
        assert distance.min() >= 3.0


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_invariants_on_the_corpus(small_corpus: list[CorpusItem], auto_results: list[PixelResult]) -> None:
    for result in auto_results:
        check_invariants(result, PixelOptions(colors=16))


OPTION_SETS = [
    PixelOptions(),
    PixelOptions(colors=None),
    PixelOptions(colors=4, dither="ordered"),
    PixelOptions(colors=3, outline="#102030"),
    PixelOptions(palette="pico-8"),
    PixelOptions(palette="gameboy", dither="ordered", outline="#FF00FF"),
    PixelOptions(palette="db32", remove_background=False, upscale=3),
    PixelOptions(colors=1),
]


def _random_image(rng: np.random.Generator) -> Image.Image:
    """Blocky art at a random fractional pitch, or plain noise, or a gradient, some with alpha."""
    kind = rng.integers(3)
    size = int(rng.integers(20, 160))
    if kind == 0:
        cells = rng.integers(0, 256, size=(int(rng.integers(4, 20)),) * 2 + (3,), dtype=np.uint8)
        image = Image.fromarray(cells).resize((size, size), Image.Resampling.NEAREST)
    elif kind == 1:
        image = Image.fromarray(rng.integers(0, 256, size=(size, size + 7, 3), dtype=np.uint8))
    else:
        ramp = np.linspace(0, 255, size, dtype=np.float64)
        image = Image.fromarray(np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=-1).astype(np.uint8))
    if rng.random() < 0.3:
        alpha = (rng.random((image.height, image.width)) < 0.5).astype(np.uint8) * 255
        image = image.convert("RGBA")
        image.putalpha(Image.fromarray(alpha))
    return image


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: o.model_dump_json(exclude_defaults=True))
def test_invariants_on_random_images(options: PixelOptions) -> None:
    rng = np.random.default_rng(zlib.crc32(options.model_dump_json().encode()))
    for _ in range(4):
        check_invariants(pixelate(_random_image(rng), options), options)


@pytest.mark.parametrize("options", OPTION_SETS[:6], ids=lambda o: o.model_dump_json(exclude_defaults=True))
def test_same_input_and_options_give_identical_png_bytes(small_corpus: list[CorpusItem], options: PixelOptions) -> None:
    image = small_corpus[2].image
    first, second = pixelate(image, options), pixelate(image.copy(), options)
    assert _png(first.sprite) == _png(second.sprite)
    assert _png(first.upscaled) == _png(second.upscaled)
    assert first.manifest == second.manifest


def test_already_1x_keeps_the_size_and_applies_the_palette() -> None:
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8))
    options = PixelOptions(palette="slso8", remove_background=False)
    result = pixelate(image, options, already_1x=True)
    assert result.sprite.size == (48, 32)
    assert result.manifest.pitch_source == "none"
    check_invariants(result, options)
