"""Files written for a result, and sprite sheets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelforge.pixelart import PixelManifest, PixelOptions, load_palette, pixelate, sprite_sheet
from pixelforge.pixelart.corpus import CorpusItem
from pixelforge.pixelart.export import write_atomic


def test_write_produces_every_output(tmp_path: Path, small_corpus: list[CorpusItem]) -> None:
    result = pixelate(small_corpus[0].image, PixelOptions(colors=8))
    paths = result.write(tmp_path / "out", "knight")
    assert set(paths) == {"sprite", "upscaled", "gpl", "hex", "manifest"}
    assert paths["sprite"].name == "knight.png"
    assert paths["upscaled"].name == f"knight@{result.manifest.upscale}x.png"
    with Image.open(paths["sprite"]) as sprite:
        assert sprite.mode == "RGBA" and sprite.size == result.sprite.size
    with Image.open(paths["upscaled"]) as upscaled:
        assert upscaled.size == result.upscaled.size
    assert load_palette(str(paths["hex"]))[1] == result.palette
    assert load_palette(str(paths["gpl"]))[1] == result.palette
    manifest = PixelManifest.model_validate(json.loads(paths["manifest"].read_text()))
    assert manifest == result.manifest
    assert manifest.colors_after == len(result.palette) <= 8
    assert manifest.colors_before > manifest.colors_after
    assert manifest.pitch_source == "detected"


def test_written_files_are_byte_identical_across_runs(tmp_path: Path, small_corpus: list[CorpusItem]) -> None:
    image = small_corpus[5].image
    first = pixelate(image, PixelOptions()).write(tmp_path / "a", "x")
    second = pixelate(image, PixelOptions()).write(tmp_path / "b", "x")
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key


def test_manifest_reports_the_detection(small_corpus: list[CorpusItem]) -> None:
    item = small_corpus[6]  # 12.5 px, PNG
    manifest = pixelate(item.image, PixelOptions(expected_pitch=12)).manifest
    assert manifest.pitch_source == "expected"
    assert abs(manifest.pitch - item.pitch) < 0.05
    assert 0.0 < manifest.confidence <= 1.0
    assert manifest.metrics.grid_contrast > 1.5
    assert manifest.metrics.reconstruction_delta_e < 10
    assert manifest.upscale == round(manifest.pitch)


def test_sprite_sheet_places_every_sprite() -> None:
    sprites = [Image.new("RGBA", (w, h), (255, 0, 0, 255)) for w, h in ((4, 4), (6, 2), (3, 5))]
    sheet = sprite_sheet_of(sprites)
    assert sheet.size == (2 * 7 - 1, 2 * 6 - 1)
    assert int((np.asarray(sheet)[..., 3] == 255).sum()) == 16 + 12 + 15


def sprite_sheet_of(sprites: list[Image.Image]) -> Image.Image:
    class _Result:
        def __init__(self, sprite: Image.Image) -> None:
            self.sprite = sprite

    return sprite_sheet([_Result(s) for s in sprites])  # type: ignore[misc]


def test_grid_contrast_is_bounded_on_a_clean_upscale() -> None:
    """A nearest-neighbour 8× sprite has no edge energy off the grid lines: the ratio must not divide by ~0."""
    rng = np.random.default_rng(5)
    cells = rng.choice(np.array([(20, 20, 40), (200, 60, 60), (240, 240, 240)], dtype=np.uint8), size=(16, 16))
    image = Image.fromarray(cells).resize((128, 128), Image.Resampling.NEAREST)
    contrast = pixelate(image, PixelOptions(pitch=8)).manifest.metrics.grid_contrast
    assert 10 < contrast < 3 * 255
    flat = pixelate(Image.new("RGB", (64, 64), (90, 90, 90)), PixelOptions(pitch=8)).manifest.metrics.grid_contrast
    assert flat == 1.0


def test_outputs_are_renamed_into_place_and_a_failed_write_leaves_the_old_file(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "knight.gpl"
    write_atomic(target, b"old")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]

    def disk_full(self: Path, data: bytes) -> int:
        self.open("wb").write(data[:1])  # cut short, as on a full disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError):
        write_atomic(target, b"new palette")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]  # no half file, no .tmp
