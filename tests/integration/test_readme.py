"""Every code block of README.md runs as written (issue 14, item 13).

Python blocks run as scripts; shell blocks run line by line in bash with `pixelforge` and `python` on PATH (as
after `. .venv/bin/activate`), in a scratch directory holding the files they name: the example images that the
README's own "the example files" block makes (sprite.png, sprite-8x.png, upload.jpg, mask.png: that block runs
once first, so a README that names a file it never makes fails here), and ./my-pipeline, pixel.safetensors.
Two substitutions, both for the machine the test runs on: port 7860 becomes a free port (a developer's own
server may hold 7860) and `<id>` becomes the id the block's previous command printed. Blocks that cannot run
inside a test are listed in NOT_RUN with the reason; a new block that is neither run nor listed fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixelforge.testing.ports import free_port
from pixelforge.testing.serve_process import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_RUN = {
    "make run": "starts the server until Ctrl+C (then make test runs this whole suite); `pixelforge serve` runs below",
    "apt-get install -y fonts-noto-color-emoji": "installs Debian packages as root and trains for hours on a CPU",
    "mkdir -p /var/lib/pixelforge-redis": "starts Redis, an API server and GPU workers until stopped, on other hosts; "
    "tests/integration/test_distributed.py runs the same deployment on the CPU",
    "mcpServers:": "LibreChat's configuration file; tests/server/test_mcp.py speaks the same streamable HTTP to /mcp",
    "import base64\nfrom openai import OpenAI": "needs a server on port 7860 with that key; "
    "tests/server/test_openai_images.py makes the same calls with the openai SDK against a live server",
    '{"mcpServers"': "Claude Desktop's configuration file; tests/server/test_mcp.py runs `pixelforge mcp` on stdio "
    "as such a host does",
}
# Languages of runnable blocks; a block without one (the directory tree) is text.
SHELL = {"sh", "bash"}


def blocks() -> list[tuple[int, str, str]]:
    """(line number, language, code) of every fenced block."""
    found, lines = [], README.read_text().splitlines()
    start, language, body = None, "", []
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            if start is None:
                start, language, body = number, line[3:].strip(), []
            else:
                found.append((start, language, "\n".join(body) + "\n"))
                start = None
        elif start is not None:
            body.append(line)
    return found


EXAMPLE_FILES = "# the example files\n"
EXAMPLES = ("sprite.png", "sprite-8x.png", "upload.jpg", "mask.png")


def with_commands(folder: Path) -> Path:
    """``folder`` with a bin/ of `pixelforge` and `python` (this interpreter), as an activated .venv has them."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name, command in (("pixelforge", f'{sys.executable} -m pixelforge.cli "$@"'),
                          ("python", f'{sys.executable} "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\nexec {command}\n")
        (bin_dir / name).chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def example_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder where the README's "the example files" block ran, with what it made."""
    folder = with_commands(tmp_path_factory.mktemp("readme-examples"))
    made_by = [code for _, language, code in blocks() if language in SHELL and code.startswith(EXAMPLE_FILES)]
    assert len(made_by) == 1, "README.md needs one block that makes its example files"
    run_shell(made_by[0], folder)
    for name in EXAMPLES:
        assert (folder / name).is_file(), f"the README's example-files block did not make {name}"
    return folder


@pytest.fixture
def scratch(tmp_path: Path, example_files: Path, tiny_qwen_dir: Path, tiny_lora: Path) -> Path:
    """A directory with every file the README's commands name, and `pixelforge` on PATH."""
    for name in EXAMPLES:
        shutil.copyfile(example_files / name, tmp_path / name)
    shutil.copytree(tiny_qwen_dir, tmp_path / "my-pipeline")
    shutil.copyfile(tiny_lora, tmp_path / "pixel.safetensors")
    return with_commands(tmp_path)


def environment(scratch: Path) -> dict[str, str]:
    return os.environ | {
        "PATH": f"{scratch / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PIXELFORGE_DATA_DIR": str(scratch / "data"),
        "PIXELFORGE_SERVER": "none",
    }


def commands(code: str) -> list[str]:
    """Shell lines, with backslash continuations joined."""
    return [line for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def run_shell(code: str, scratch: Path) -> None:
    env = environment(scratch)
    port = free_port()
    server: subprocess.Popen | None = None
    last_output = ""
    try:
        for command in commands(code):
            command = command.replace("7860", str(port))
            if "<id>" in command:
                command = command.replace("<id>", json.loads(last_output)["id"])
            if command.startswith("pixelforge serve"):
                server = subprocess.Popen(command, shell=True, cwd=scratch, env=env, executable="/bin/bash",
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_healthy(port, server)
                continue
            if command.startswith("curl") and server is None:
                server = subprocess.Popen(["pixelforge", "serve", "--port", str(port)], cwd=scratch, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_healthy(port, server)
            result = subprocess.run(command, shell=True, cwd=scratch, env=env, executable="/bin/bash",
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, command
            last_output = result.stdout
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)


def not_run_reason(code: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if code.startswith(start)), None)


def runnable() -> list[tuple[int, str, str]]:
    """Blocks with a language that NOT_RUN does not list: what the test below executes."""
    return [(n, language, code) for n, language, code in blocks() if language and not_run_reason(code) is None]


def test_every_block_not_run_is_text_or_listed_with_its_reason() -> None:
    run = runnable()
    for block in blocks():
        line, language, code = block
        assert block in run or not language or not_run_reason(code), f"README.md:{line} is neither run nor listed"
    # Every NOT_RUN entry still names a block: a stale entry would hide nothing but mislead the reader.
    for start in NOT_RUN:
        assert any(code.startswith(start) for _, _, code in blocks()), f"NOT_RUN names no block: {start!r}"
    assert runnable(), "no README block is run"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a block may import torch more than once: minutes on a loaded 2-core machine
@pytest.mark.parametrize(("line", "language", "code"), runnable(), ids=[f"README.md:{n}" for n, _, _ in runnable()])
def test_readme_block_runs(line: int, language: str, code: str, scratch: Path) -> None:
    if language == "python":
        result = subprocess.run([sys.executable, "-c", code], cwd=scratch, env=environment(scratch),
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    else:
        assert language in SHELL, f"README.md:{line}: a {language!r} block: run it here or list it in NOT_RUN"
        run_shell(code, scratch)
