"""training/gpu_session.sh, the one call prepared for a lent GPU machine: its CPU smoke path and its refusals.
The GPU path itself cannot run here (no GPU); the smoke path runs the same training script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pixelforge.backends.sprite import SpritePipeline

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "gpu_session.sh"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "OUT"} | {"PYTHON": sys.executable} | env
    return subprocess.run(["bash", str(SCRIPT), *args], env=environment, capture_output=True, text=True,
                          timeout=240, check=False)


def test_smoke_trains_a_loadable_pipeline_on_the_cpu(tmp_path: Path) -> None:
    result = _run("--smoke", OUT=str(tmp_path))
    assert result.returncode == 0, result.stderr
    SpritePipeline.from_pretrained(tmp_path / "sprite-v2")  # loads: the same files a GPU run leaves in $OUT


def test_refuses_an_unknown_option_without_out_or_without_the_data(tmp_path: Path) -> None:
    unknown = _run("--train-forever")
    assert unknown.returncode == 2 and "usage:" in unknown.stderr
    no_out = _run()
    assert no_out.returncode != 0 and "OUT" in no_out.stderr
    no_data = _run(OUT=str(tmp_path), DATA=str(tmp_path / "missing"))
    assert no_data.returncode == 2 and "sprites.npz" in no_data.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started
