"""The ``pixelate`` subcommand, through a parser built the way the top-level CLI builds it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelforge.pixelart.cli import EXIT_BAD_INPUT, EXIT_OK, register
from pixelforge.pixelart.corpus import CorpusItem, corpus


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pixelforge")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture()
def art(tmp_path: Path, small_corpus: list[CorpusItem]) -> Path:
    path = tmp_path / "knight.png"
    small_corpus[4].image.save(path)  # pitch 8
    return path


def test_writes_the_outputs_and_prints_their_paths(
    art: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pixelate", str(art), "--colors", "8", "--out", str(tmp_path / "out")]) == EXIT_OK
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [
        "knight-pixel.png",
        "knight-pixel@8x.png",
        "knight-pixel.gpl",
        "knight-pixel.hex",
        "knight-pixel.json",
    ]
    assert all(Path(p).is_file() for p in printed)


def test_json_summary(art: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        ["pixelate", str(art), "--pitch", "8", "--palette", "db16", "--dither", "ordered", "--upscale", "2", "--json"]
    )
    assert code == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["manifest"]["pitch_source"] == "manual"
    assert summary["manifest"]["grid_fit"] == "uniform"
    assert summary["manifest"]["palette_name"] == "db16"
    assert summary["manifest"]["upscale"] == 2
    assert Path(summary["outputs"]["sprite"]).parent == art.parent


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pitch", "1"], "greater than 1"),
        (["--palette", "nes"], "unknown palette"),
        (["--outline", "red"], "invalid --outline"),
        (["--colors", "0"], "invalid --colors"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    art: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pixelate", str(art), *extra]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_not_an_image_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"definitely not a png")
    assert run(["pixelate", str(path)]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("pixelforge: not an image")


def test_colors_and_palette_are_exclusive(art: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run(["pixelate", str(art), "--colors", "4", "--palette", "db16"])
    assert exc.value.code == 2


def test_remove_enclosed_reaches_the_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A square ring on a flat background: its 4×4 hole goes only with --remove-enclosed."""
    cells = np.full((16, 16, 3), 230, dtype=np.uint8)
    cells[4:12, 4:12] = (120, 40, 40)
    cells[6:10, 6:10] = 230
    path = tmp_path / "ring.png"
    Image.fromarray(cells).resize((96, 96), Image.Resampling.NEAREST).save(path)
    transparent = []
    for extra in ([], ["--remove-enclosed"]):
        assert run(["pixelate", str(path), "--pitch", "6", "--json", *extra]) == EXIT_OK
        transparent.append(json.loads(capsys.readouterr().out)["manifest"]["transparent_pixels"])
    assert transparent == [256 - 64, 256 - 64 + 16]


def test_uniform_grid_turns_the_per_line_fit_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "drift.png"
    corpus(sprites=1, pitches=(8.0,), jpeg=False, max_cells=32, seed=7, jitter=0.15)[0].image.save(path)
    fits = []
    for extra in ([], ["--uniform-grid"]):
        assert run(["pixelate", str(path), "--pitch", "8", "--json", *extra]) == EXIT_OK
        fits.append(json.loads(capsys.readouterr().out)["manifest"]["grid_fit"])
    assert fits == ["per-line", "uniform"]
