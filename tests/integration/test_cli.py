"""The real `pixelforge` command in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.cli import main

CLI = [sys.executable, "-m", "pixelforge.cli"]


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=os.environ | {"CI": "1"})


def test_generate_writes_pngs_and_a_json_summary(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "generate", "a red heart", "--model", str(tiny_qwen_dir), "--steps", "8", "--width", "32", "--height", "32",
        "--batch-count", "2", "--seed", "42", "--out", str(out), "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed" and summary["task_id"].startswith("task(txt2img-")
    assert [Path(p).name for p in summary["images"]] == ["a-red-heart-42.png", "a-red-heart-43.png"]
    assert summary["stats"]["steps_run"] == 16 and summary["stats"]["peak_rss_mb"] > 0
    assert summary["info"]["steps"] == 8 and summary["info"]["sampler_name"] == "Euler"
    with Image.open(summary["images"][0]) as image:
        assert image.size == (32, 32)
        assert "Seed: 42" in image.info["parameters"]


def test_generate_prints_one_path_per_image(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    result = run_cli("generate", "x", "--model", str(tiny_qwen_dir), "--steps", "1", "--width", "32", "--height", "32",
                     "--batch-size", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    assert len(paths) == 2 and all(Path(p).is_file() for p in paths)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "steps"),
        (["--steps", "100000"], "steps: at most"),
        (["--width", "100"], "multiple of 16"),
        (["--width", "4096"], "width: at most"),
        (["--batch-count", "-1"], "--batch-count"),  # 0 is valid: generate until stopped
        (["--batch-size", "64"], "--batch-size: at most"),
        (["--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["--lora", "/nowhere/x.safetensors"], "LoRA file not found"),
        (["--steps", "many"], "invalid int value"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tiny_qwen_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    model = [] if "--model" in args else ["--model", str(tiny_qwen_dir)]
    with pytest.raises(SystemExit) if "many" in args else nullcontext():  # argparse's own errors exit directly
        code = main(["generate", "x", *model, *args, "--out", str(tmp_path)])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err


def test_bad_input_covers_prompt_length_and_corrupt_lora(
    tiny_qwen_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "x" * 5000, "--model", str(tiny_qwen_dir), "--out", str(tmp_path)]) == 2
    assert "prompt: at most 4000 characters" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a safetensors file at all")
    assert main(["generate", "x", "--model", str(tiny_qwen_dir), "--lora", str(corrupt), "--out", str(tmp_path)]) == 2
    assert "not a valid .safetensors file" in capsys.readouterr().err


def test_models_lists_presets_and_what_to_download(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert {"sprite", "qwen-image"} <= set(entries)
    qwen = entries["qwen-image"]
    if not qwen["available"]:
        assert "huggingface-cli download Qwen/Qwen-Image-2512" in qwen["problem"]
    assert main(["models"]) == 0
    listing = " ".join(capsys.readouterr().out.split())  # the description, wrapped, follows each model
    assert entries["sprite"]["description"] in listing and "not scenes or characters in poses" in listing


def test_models_tells_what_the_sprite_model_knows_word_by_word(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    known = {e["name"]: e for e in json.loads(capsys.readouterr().out)}["sprite"]["vocabulary"]
    assert main(["models"]) == 0
    assert f"knows {known['words']:,} words" in capsys.readouterr().out
    assert main(["models", "--words", "Two red apples and a zorp", "--model", "sprite"]) == 0
    lines = [line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines()]
    assert lines == [["two", "known"], ["red", "known"], ["apples", "known (plural of apple)"],
                     ["zorp", "not known: ignored"]]
    assert main(["models", "--words", "the and of", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["words"] == []
    assert main(["models", "--words", "a cat", "--model", "qwen-image"]) == 2  # not on this machine
    assert "pixelforge models" in capsys.readouterr().err


def test_first_ctrl_c_interrupts_keeps_finished_images_and_exits_130(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*CLI, "generate", "x", "--model", str(tiny_qwen_dir), "--steps", "150", "--width", "32", "--height", "32",
         "--batch-count", "16", "--seed", "1", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first_path = process.stdout.readline().strip()  # the first image is finished and reported
    assert first_path.endswith(".png")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted (user)" in stderr and "Traceback" not in stderr
    kept = sorted(out.iterdir())
    assert Path(first_path) in kept and len(kept) < 16
