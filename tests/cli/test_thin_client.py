"""`pixelforge generate` as a thin client of a running server (issue 14, item 11): found by itself or named with
--server, no torch imported, images downloaded under the usual names, Ctrl+C interrupting the server's task;
without a server it runs in this process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import cli_env, run_cli

from pixelforge.cli import client as cli_client
from pixelforge.cli.client import Server, ServerUnreachable
from pixelforge.config import Settings
from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer, start_server
from pixelforge.testing.ports import free_port

# Runs main() and reports which heavy modules the run imported.
PROBE = """
import json, sys
from pixelforge.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "diffusers", "numpy", "scipy") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def probe(*args: str, env: dict[str, str], cwd: Path) -> tuple[dict, subprocess.CompletedProcess[str]]:
    # In process, torch's import alone takes a minute on a loaded 2-core machine.
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=600,
                            env=env, cwd=cwd)
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def test_generate_runs_on_the_server_without_importing_torch(served: LiveServer, tmp_path: Path) -> None:
    before = served.runtime.store.count()
    report, result = probe("generate", "a red heart", "--steps", "6", "--batch-count", "2", "--seed", "40",
                           "--out", "o", env=cli_env(PIXELFORGE_SERVER=served.url), cwd=tmp_path)
    assert report == {"code": 0, "heavy": []}, result.stderr
    assert served.runtime.store.count() == before + 1  # the task ran on the server
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    # The image and its other outputs (the sprite model's ×8 copy), named as the in-process path names them.
    assert written == ["a-red-heart-40.png", "a-red-heart-40@8x.png", "a-red-heart-41.png", "a-red-heart-41@8x.png"]


def test_a_local_server_is_found_by_its_port(served: LiveServer, tmp_path: Path) -> None:
    before = served.runtime.store.count()
    port = served.url.rsplit(":", 1)[1]
    result = run_cli("generate", "x", "--steps", "2", "--out", "o", "--json", env=cli_env(PIXELFORGE_PORT=port),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed" and len(summary["images"]) == 1
    assert served.runtime.store.get(summary["task_id"]).state is TaskState.COMPLETED
    assert served.runtime.store.count() == before + 1


def test_without_a_server_it_runs_in_this_process(tmp_path: Path) -> None:
    report, result = probe("generate", "x", "--steps", "2", "--out", "o",
                           env=cli_env(PIXELFORGE_PORT=str(free_port())), cwd=tmp_path)
    assert report["code"] == 0 and "torch" in report["heavy"], result.stderr
    assert len(list((tmp_path / "o").glob("*.png"))) == 2  # the sprite and its ×8 copy


def test_errors_are_one_line_and_a_non_zero_exit(served: LiveServer, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli("generate", "x", "--server", dead, env=cli_env(), cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip() == f"pixelforge: no pixelforge server answers at {dead}"

    # The server refuses the parameters: exit 2 with its message, as in process.
    result = run_cli("generate", "x", "--steps", "0", "--server", served.url, env=cli_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "pixelforge: --steps: Input should be greater than or equal to 1"
    for flags, message in ((["--colors", "0"], "--colors: Input should be greater than or equal to 1"),
                           (["--pixel-pitch", "0"],
                            "--palette/--colors/--pixel-pitch: the pitch must be greater than 1")):
        result = run_cli("generate", "x", *flags, "--server", served.url, env=cli_env(), cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith(f"pixelforge: {message}"), result.stderr

    result = run_cli("generate", "x", "--device", "cpu", "--server", served.url, env=cli_env(), cwd=tmp_path)
    assert result.returncode == 2 and "--device configure an engine in this process" in result.stderr


def test_ctrl_c_interrupts_the_task_on_the_server(served: LiveServer, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pixelforge.cli", "generate", "x", "--steps", "150", "--batch-count", "16",
         "--seed", "1", "--out", "o", "--server", served.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=tmp_path,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()  # the first image is finished and downloaded
    assert first.endswith(".png")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert re.search(r"interrupted \(user\); kept (1 image|\d+ images)$", stderr.strip()), stderr
    assert "Traceback" not in stderr
    task = served.runtime.store.list(limit=1)[0]
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == "user"
    assert len(task.images) < 16


def test_an_unhealthy_server_is_an_error_not_a_silent_run_in_this_process(server_model: str, tmp_path: Path) -> None:
    live = start_server(Settings(data_dir=tmp_path / "data", model=server_model))
    try:
        live.runtime.workers[0].stop()  # the worker has ended while the server goes on: health answers 503
        said = (f"pixelforge: the pixelforge server at {live.url} is unhealthy (worker worker-0 has stopped); "
                "restart it, or run here with --local")
        for env, flags in ((cli_env(), ["--server", live.url]), (cli_env(PIXELFORGE_SERVER=live.url), [])):
            report, result = probe("generate", "x", *flags, env=env, cwd=tmp_path)
            assert report == {"code": 1, "heavy": []}, result.stderr  # nothing loaded here either
            assert result.stderr.strip() == said
    finally:
        live.stop()


class _Clock:
    """Stands in for the time module in cli_client: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now, self.pauses = 0.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_dropped_event_stream_is_retried_with_growing_pauses_then_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(cli_client, "time", clock)
    gone = Server(f"http://127.0.0.1:{free_port()}")  # as while a server restarts: connection refused
    with pytest.raises(ServerUnreachable, match="lost the connection"):
        list(gone.events("task(txt2img-x)"))
    assert clock.pauses[:5] == [0.25, 0.5, 1.0, 2.0, 4.0] and set(clock.pauses[5:]) == {4.0}
    assert sum(clock.pauses) <= cli_client.RECONNECT_WINDOW_S < sum(clock.pauses) + 4.0
