"""Helpers of the CLI tests: `pixelforge` subprocesses with a controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env(**values: str) -> dict[str, str]:
    """The environment of a `pixelforge` subprocess; PIXELFORGE_SERVER is dropped unless given."""
    env = {k: v for k, v in os.environ.items() if k != "PIXELFORGE_SERVER"}
    return env | {"PYTHONPATH": str(ROOT), "CI": "1"} | values


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixelforge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)
