"""The pixel-art stage as part of a task: true 1× sprites, their palette files, a sheet for a batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.cli import main
from pixelforge.pixelart import PixelOptions
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.tasks.service import InvalidTask


def test_pixel_options_turn_each_image_into_a_true_sprite_with_its_files(make_runtime) -> None:
    runtime = make_runtime(preview_every=0)
    options = PixelOptions(pitch=4, colors=8, remove_background=False)
    params = TaskParams(prompt="x", steps=2, width=32, height=32, batch_size=2, seed=7, pixel=options)
    done = runtime.service.wait(runtime.service.submit(params).id, timeout=120)
    assert done.state is TaskState.COMPLETED
    data = runtime.settings.data_dir
    for image in done.images:
        manifest = json.loads((data / image.files["manifest"]).read_text())
        # 32 px at 4 px per art pixel: 8 cells per axis, or 9 where the measured grid phase cuts a cell at both
        # edges (the tiny test pipeline draws noise, so its phase is arbitrary).
        assert (image.width, image.height) == tuple(manifest["size"])
        assert {image.width, image.height} <= {8, 9}
        assert set(image.files) == {"raw", "upscaled", "gpl", "hex", "manifest"}
        with Image.open(data / image.path) as sprite:
            assert sprite.size == (image.width, image.height) and "Seed: " in sprite.info["parameters"]
            opaque = {c for a, c in zip(sprite.getchannel("A").getdata(), sprite.convert("RGB").getdata(), strict=True)
                      if a}
        assert len(opaque) <= 8
        with Image.open(data / image.files["raw"]) as raw:
            assert raw.size == (32, 32)
        assert manifest["pitch"] == pytest.approx(4.0, abs=1e-6)
    sheet = data / done.sprite_sheet
    with Image.open(sheet) as picture:
        assert picture.height == max(image.height for image in done.images)
        assert picture.width >= sum(image.width for image in done.images)


def test_the_stage_is_off_by_default_for_plain_pipelines(make_runtime) -> None:
    runtime = make_runtime(preview_every=0)
    done = runtime.service.wait(runtime.service.submit(TaskParams(prompt="x", steps=1, width=32, height=32)).id)
    assert done.images[0].files == {} and (done.images[0].width, done.resolved.pixel) == (32, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (PixelOptions(pitch=1), "pixel: the pitch must be greater than 1"),
        (PixelOptions(palette="no-such-palette"), "pixel:"),
    ],
)
def test_bad_pixel_options_are_refused_at_submission(make_runtime, options: PixelOptions, message: str) -> None:
    runtime = make_runtime(start=False)
    with pytest.raises(InvalidTask, match=message):
        runtime.service.submit(TaskParams(prompt="x", pixel=options))
    assert runtime.service.store.count() == 0


def test_cli_copies_the_sprite_and_its_files(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    code = main(["generate", "x", "--model", str(tiny_qwen_dir), "--steps", "1", "--width", "32", "--height", "32",
                 "--seed", "5", "--palette", "pico-8", "--pixel-pitch", "4", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["x-5-raw.png", "x-5.gpl", "x-5.hex", "x-5.json", "x-5.png", "x-5@4x.png"]
    pico8 = {tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in (tmp_path / "x-5.hex").read_text().split()}
    with Image.open(tmp_path / "x-5.png") as sprite:
        used = {c for a, c in zip(sprite.getchannel("A").getdata(), sprite.convert("RGB").getdata(), strict=True) if a}
    assert used <= pico8
