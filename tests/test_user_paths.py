"""Paths a user types: ``~`` of a user that does not exist is a missing file with the usual clear error (never
pathlib's RuntimeError), and a PIL image of any mode is accepted as an init image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pixelforge.api import encoded
from pixelforge.backends.presets import InvalidLora, ModelNotFound, check_lora_file, resolve_model
from pixelforge.pixelart import PixelArtError, load_palette
from pixelforge.userpath import expand_user

NOBODY = "~no-such-user-on-this-machine"


def test_an_unknown_users_home_is_left_as_written() -> None:
    assert str(expand_user(f"{NOBODY}/x.hex")) == f"{NOBODY}/x.hex"
    assert str(expand_user("~/x.hex")).endswith("/x.hex") and not str(expand_user("~/x.hex")).startswith("~")


def test_each_kind_of_file_under_an_unknown_home_is_reported_missing() -> None:
    with pytest.raises(ModelNotFound, match="unknown model"):
        resolve_model(f"{NOBODY}/models/pipeline")
    with pytest.raises(InvalidLora, match="not found"):
        check_lora_file(f"{NOBODY}/pixel.safetensors")
    with pytest.raises(PixelArtError, match="not found"):
        load_palette(f"{NOBODY}/mine.hex")
    with pytest.raises(FileNotFoundError):
        encoded(f"{NOBODY}/sprite.png")


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "LAB", "HSV", "F", "RGBA", "P"])
def test_a_pil_image_of_any_mode_is_encoded_as_png(mode: str) -> None:
    data = encoded(Image.new(mode, (8, 8)))
    assert data.startswith(b"\x89PNG") and Image.open(io.BytesIO(data)).size == (8, 8)
