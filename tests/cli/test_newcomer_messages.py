"""What a new user reads when something is not there (issue 26, items 4 and 8): a busy port is one line naming the
port, its holder and how to choose another; `generate` without a server says it runs here; a server with no worker
says to start one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import cli_env, run_cli

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server
from pixelforge.testing.ports import free_port

CHOOSE = "choose another with --port N (or PIXELFORGE_PORT=N, or make run PORT=N)"


def test_a_port_another_program_holds_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), env=cli_env(),
                         cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"pixelforge: port {port} on 127.0.0.1 is already in use by another program (not a "
                             f"pixelforge server); {CHOOSE}\n")


def test_a_port_a_pixelforge_holds_says_so(served: LiveServer, tmp_path: Path) -> None:
    port = served.url.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", port, "--data-dir", str(tmp_path / "data"), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"pixelforge: port {port} on 127.0.0.1 is already in use by a pixelforge server "
                             f"({served.url}); {CHOOSE}\n")


def test_generate_without_a_server_says_it_runs_here(tmp_path: Path) -> None:
    port = free_port()
    result = run_cli("generate", "x", "--steps", "0", env=cli_env(PIXELFORGE_PORT=str(port)), cwd=tmp_path)
    assert result.stderr.splitlines()[0].startswith(f"pixelforge: no server at http://127.0.0.1:{port}; running here")
    assert result.returncode == 2  # then the bad --steps, in this process
    quiet = run_cli("generate", "x", "--steps", "0", env=cli_env(PIXELFORGE_SERVER="none"), cwd=tmp_path)
    assert "no server" not in quiet.stderr  # PIXELFORGE_SERVER=none: the user said not to look


@pytest.fixture
def workerless(server_model: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=tmp_path / "data", model=server_model), workers=0)
    yield live
    live.stop()


def test_a_server_with_no_worker_says_to_start_one(workerless: LiveServer, tmp_path: Path) -> None:
    result = run_cli("generate", "x", "--server", workerless.url, env=cli_env(), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (f"pixelforge: the pixelforge server at {workerless.url} is unhealthy (no worker is "
                             "running); start one with `pixelforge worker --redis URL`, or run here with --local\n")


def test_errors_name_the_flags_and_a_confined_palette_says_where_and_how_round(
    served: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "sprite.png").write_bytes(b"not an image")
    strength = run_cli("generate", "x", "--init-image", "sprite.png", "--strength", "2", "--server", served.url,
                       env=cli_env(), cwd=tmp_path)
    assert strength.returncode == 2 and strength.stderr.startswith("pixelforge: --strength: "), strength.stderr
    palette = run_cli("generate", "x", "--palette", "mine.gpl", "--server", served.url, env=cli_env(), cwd=tmp_path)
    assert palette.returncode == 2
    assert palette.stderr.startswith("pixelforge: --palette: unknown palette 'mine.gpl'"), palette.stderr
    assert "in the models folder (the server's PIXELFORGE_MODELS_DIR, by default the data dir's models folder)" \
        in palette.stderr
    assert palette.stderr.endswith("(--local runs the task in this process, which reads any path)\n")
