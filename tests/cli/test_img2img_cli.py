"""`pixelforge generate --init-image/--strength/--mask`: img2img and inpainting from the command line, on a
server (no torch imported) and in process, with bad inputs a message and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from clikit import cli_env, run_cli
from PIL import Image
from test_thin_client import probe

from pixelforge.testing.images import left_half_mask, sprite
from pixelforge.testing.live_server import LiveServer
from pixelforge.testing.ports import free_port


def _inputs(folder: Path) -> tuple[Path, Path]:
    sprite().save(folder / "sprite.png")
    left_half_mask().save(folder / "mask.png")
    return folder / "sprite.png", folder / "mask.png"


def test_inpainting_on_the_server_without_importing_torch(served: LiveServer, tmp_path: Path) -> None:
    image, mask = _inputs(tmp_path)
    report, result = probe("generate", "a knight", "--init-image", str(image), "--mask", str(mask), "--strength",
                           "0.5", "--steps", "4", "--seed", "3", "--out", "o", "--json",
                           env=cli_env(PIXELFORGE_SERVER=served.url), cwd=tmp_path)
    assert report == {"code": 0, "heavy": []}, result.stderr
    summary = json.loads(result.stdout[: result.stdout.rindex("\n{")])  # the probe's own line comes last
    assert summary["state"] == "completed" and summary["params"]["img2img"]["denoising_strength"] == 0.5
    task = served.runtime.store.get(summary["task_id"])
    assert task.type == "img2img" and task.inputs.mask is not None
    out = np.asarray(Image.open(tmp_path / "o" / "a-knight-3.png"))
    assert np.array_equal(out[:, 16:], np.asarray(sprite())[:, 16:])


def test_bad_inputs_are_a_message_and_exit_2(served: LiveServer, tmp_path: Path) -> None:
    image, _ = _inputs(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    env = cli_env(PIXELFORGE_SERVER=served.url)
    cases = [
        (["--strength", "0.5"], "pixelforge: --strength needs --init-image"),
        (["--mask", str(image)], "pixelforge: --mask needs --init-image"),
        (["--init-image", str(tmp_path / "missing.png")], "pixelforge: cannot read --init-image"),
        (["--init-image", str(tmp_path / "notes.txt")], "pixelforge: --init-image: is not an image"),
        (["--init-image", str(image), "--strength", "2"], "pixelforge: --strength: Input should be"),
    ]
    for flags, message in cases:
        result = run_cli("generate", "x", *flags, env=env, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith(message), (flags, result.stderr)
        assert "Traceback" not in result.stderr


def test_in_process_strength_zero_returns_the_input_and_a_bad_image_is_refused(tmp_path: Path) -> None:
    image, _ = _inputs(tmp_path)
    env = cli_env(PIXELFORGE_PORT=str(free_port()))
    result = run_cli("generate", "x", "--init-image", str(image), "--strength", "0", "--steps", "2", "--seed", "1",
                     "--out", "o", env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o" / "x-1.png")), np.asarray(sprite()))
    (tmp_path / "cut.png").write_bytes(image.read_bytes()[:200])
    result = run_cli("generate", "x", "--init-image", str(tmp_path / "cut.png"), env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 2 and "--init-image: is truncated or corrupt" in result.stderr, result.stderr
