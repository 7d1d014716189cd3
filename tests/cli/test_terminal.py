"""The CLI as a person sees it in a terminal (issue 14, items 10 and 12): the progress bar in a 60-column tmux
pane, bare `pixelforge`, --version, help texts with their defaults."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from clikit import ROOT, cli_env, run_cli

from pixelforge import __version__
from pixelforge.cli import build_parser
from pixelforge.cli.progress import describe, format_eta, render
from pixelforge.stores.redis.keys import RedisKeys
from pixelforge.testing.live_server import LiveServer
from pixelforge.testing.redis_server import RedisServer

COLUMNS = 60
# A tmux server of this test process's own: sessions of another test run on the machine never collide with ours.
TMUX_SOCKET = f"pixelforge-test-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", TMUX_SOCKET, *args], capture_output=True, text=True, check=True).stdout

@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_bar_fits_the_terminal_and_leaves_one_clean_line(served: LiveServer, tmp_path: Path) -> None:
    session = f"pf-{tmp_path.name}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cli_env().items() if k in ("PYTHONPATH", "HF_HUB_OFFLINE"))
    command = (f"cd {shlex.quote(str(tmp_path))} && env {env} {shlex.quote(sys.executable)} -m pixelforge.cli "
               f"generate 'a red heart' --steps 30 --batch-count 2 --seed 3 --out o --server {served.url}; "
               "echo EXIT=$?; sleep 600")
    tmux("new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", "20", command)
    try:
        deadline = time.monotonic() + 120
        while "EXIT=" not in (screen := tmux("capture-pane", "-p", "-t", session, "-S", "-")):
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)  # polling the pane: tmux has no event to wait on
    finally:
        tmux("kill-session", "-t", session)
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines == ["o/a-red-heart-3.png", "o/a-red-heart-4.png", lines[2], "EXIT=0"], screen
    # One bar line, at 100 %, inside the width: no line scrolled per update, no residue between the paths.
    assert lines[2].startswith("100% [") and lines[2].endswith("] done") and len(lines[2]) < COLUMNS

def test_the_bar_is_cut_to_the_width_and_says_no_eta_until_known() -> None:
    data = {"phase": "denoise", "step": 1, "steps": 20, "job_no": 0, "job_count": 4, "progress": 0.0125,
            "eta_s": None}
    assert describe(data) == "step 1/20, job 1/4"
    data["eta_s"] = 75
    assert describe(data) == "step 1/20, job 1/4, ETA 01:15"
    for columns in (20, 40, 60, 80, 200):
        assert len(render(0.5, describe(data), columns)) < columns
    assert format_eta(7.4) == "7s" and format_eta(3725) == "01:02:05" and format_eta(None) == "--"

def test_bare_pixelforge_prints_help_and_version(tmp_path: Path) -> None:
    bare = run_cli(env=cli_env(), cwd=tmp_path)
    assert bare.returncode == 0 and bare.stdout.startswith("usage: pixelforge") and "generate" in bare.stdout
    version = run_cli("--version", env=cli_env(), cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"pixelforge {__version__}"

def test_every_option_says_its_default_in_lowercase() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("generate", "serve", "worker"):
        for action in commands.choices[name]._actions:
            if isinstance(action, argparse._HelpAction) or action.dest == "prompt":
                continue
            assert action.help, f"{name} {action.option_strings} has no help"
            assert action.help[0].islower() or action.help[0] in "-$", action.help  # one style throughout
            flag = isinstance(action, argparse._StoreTrueAction)
            assert flag or "default" in action.help, f"{name} {action.option_strings}: no default in its help"
    generate_help = commands.choices["generate"].format_help()
    assert "(default: 1)" in generate_help and "(default: -1)" in generate_help

def test_distributed_mode_with_a_bad_redis_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for command in (["worker", "--device", "cpu"], ["serve"]):
        result = run_cli(*command, "--redis", "not-a-url", "--data-dir", str(tmp_path), env=cli_env(), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("pixelforge: invalid --redis URL") and "Traceback" not in result.stderr

def test_distributed_mode_on_a_namespace_of_another_schema_version_is_one_line_and_exit_2(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    namespace = f"test-{tmp_path.name}"
    redis.Redis.from_url(redis_server.url).set(RedisKeys(namespace).schema, "2")
    env = cli_env(PIXELFORGE_REDIS_NAMESPACE=namespace)
    for command in (["worker", "--device", "cpu"], ["serve"]):
        result = run_cli(*command, "--redis", redis_server.url, "--data-dir", str(tmp_path), env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"pixelforge: cannot open the task store redis namespace '{namespace}': its schema is "
                                 "version 2, this pixelforge reads version 1 only (use another namespace: "
                                 "PIXELFORGE_REDIS_NAMESPACE)\n")

def test_split_batches_without_redis_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("serve", "--split-batches", "--data-dir", str(tmp_path), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "pixelforge: --split-batches needs --redis: only a distributed deployment has several " \
        "workers\n"

def test_distributed_mode_without_the_redis_client_names_the_extra(tmp_path: Path) -> None:
    # A `redis` package that cannot be imported stands for a machine where the 'redis' extra was not installed.
    (tmp_path / "redis").mkdir()
    missing = "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    (tmp_path / "redis" / "__init__.py").write_text(missing)
    env = cli_env(PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    for command in (["worker", "--device", "cpu"], ["serve"]):
        result = run_cli(*command, "--redis", "redis://127.0.0.1:1", "--data-dir", str(tmp_path), env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "pip install redis (the project's 'redis' extra)" in result.stderr and "Traceback" not in result.stderr
