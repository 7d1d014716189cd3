"""Bad input gives a PixelArtError (a ValueError) with a message a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from pixelforge.pixelart import MAX_PIXELS, PixelArtError, PixelOptions, load_image, pixelate


def _art() -> Image.Image:
    return Image.new("RGB", (64, 64), (200, 10, 10))


def test_error_is_a_value_error() -> None:
    assert issubclass(PixelArtError, ValueError)


def test_not_an_image() -> None:
    with pytest.raises(PixelArtError, match="not an image"):
        pixelate(b"\x89PNG not really", PixelOptions())  # type: ignore[arg-type]


def test_file_that_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(PixelArtError, match="not an image"):
        load_image(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PixelArtError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_empty_image() -> None:
    with pytest.raises(PixelArtError, match="empty"):
        pixelate(Image.new("RGB", (0, 0)), PixelOptions())


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (40, 1), (2, 3)])
def test_an_image_too_small_for_a_grid_is_kept_at_one_pixel_per_pixel(size: tuple[int, int]) -> None:
    result = pixelate(Image.new("RGB", size, (200, 10, 10)), PixelOptions())
    assert result.sprite.size == size and result.manifest.pitch_source == "none"


def test_huge_image_is_refused_before_decoding(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5) + 1
    huge = Image.new("1", (side, side))  # 1 bit per pixel: cheap to make, too many pixels to process
    with pytest.raises(PixelArtError, match="too large"):
        pixelate(huge, PixelOptions())
    path = tmp_path / "huge.png"
    huge.save(path)
    with pytest.raises(PixelArtError, match="too large"):
        load_image(path)


@pytest.mark.parametrize("pitch", [1.0, 0.5, 0.0, -3.0])
def test_pitch_must_exceed_one(pitch: float) -> None:
    with pytest.raises(PixelArtError, match="greater than 1"):
        pixelate(_art(), PixelOptions(pitch=pitch))
    with pytest.raises(PixelArtError, match="greater than 1"):
        pixelate(_art(), PixelOptions(expected_pitch=pitch))


def test_pitch_larger_than_the_image() -> None:
    with pytest.raises(PixelArtError, match="larger than the image"):
        pixelate(_art(), PixelOptions(pitch=65))


def test_unknown_palette_name() -> None:
    with pytest.raises(PixelArtError, match=r"unknown palette 'nes'.*pico-8"):
        pixelate(_art(), PixelOptions(palette="nes"))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.hex", "ff0000\nnot-a-colour\n", "line 2"),
        ("empty.hex", "\n\n", "no colours"),
        ("bad.gpl", "JASC-PAL\n", "GIMP Palette"),
        ("short.gpl", "GIMP Palette\nName: x\n12 34\n", "line 3"),
        ("range.gpl", "GIMP Palette\n300 0 0 red\n", "0..255"),
    ],
)
def test_malformed_palette_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PixelArtError, match=message):
        pixelate(_art(), PixelOptions(palette=str(path)))


def test_missing_palette_file(tmp_path: Path) -> None:
    with pytest.raises(PixelArtError, match="not found"):
        pixelate(_art(), PixelOptions(palette=str(tmp_path / "gone.hex")))


def test_options_reject_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        PixelOptions(colour=4)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        PixelOptions(outline="red")
    with pytest.raises(ValidationError):
        PixelOptions(colors=0)
    with pytest.raises(ValidationError):
        PixelOptions(dither="floyd-steinberg")  # type: ignore[arg-type]
