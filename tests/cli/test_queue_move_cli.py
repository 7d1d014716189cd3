"""`pixelforge queue move` and the Python API's ``TaskHandle.move``, attached to a real server and in process
(issue 29)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from clikit import cli_env, run_cli

from pixelforge import Pixelforge, api_attached
from pixelforge.api_attached import AttachedTasks
from pixelforge.cli import build_parser
from pixelforge.cli.client import CLIENT_ID
from pixelforge.cli.common import UsageError, settings_from
from pixelforge.testing.live_server import LiveServer


def _listed(env: dict[str, str], cwd: Path) -> list[str]:
    listed = run_cli("queue", "list", "--json", env=env, cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return [t["id"] for t in json.loads(listed.stdout) if t["state"] == "queued"]


def test_queue_move_reorders_my_queued_tasks(served: LiveServer, tmp_path: Path) -> None:
    env = cli_env(PIXELFORGE_SERVER=served.url)
    served.runtime.service.store.set_paused(True)
    try:
        attached = AttachedTasks(served.url, tmp_path)  # the Python API's side of a Pixelforge attached to it
        try:
            with httpx.Client(base_url=served.url, headers={"X-Client-Id": CLIENT_ID}) as client:
                ids = [client.post("/api/v1/tasks", json={"prompt": "q", "steps": 2}).json()["id"] for _ in range(3)]
            moved = run_cli("queue", "move", ids[2], "front", env=env, cwd=tmp_path)
            assert moved.returncode == 0, moved.stderr
            assert moved.stdout.strip() == f"{ids[2]}: now 1 in the queue"
            assert _listed(env, tmp_path) == [ids[2], ids[0], ids[1]]
            assert json.loads(run_cli("queue", "move", ids[2], "back", "--json", env=env, cwd=tmp_path).stdout)[
                "position"] == 3
            assert _listed(env, tmp_path) == [ids[0], ids[1], ids[2]]
            with httpx.Client(base_url=served.url, headers={"X-Client-Id": api_attached.CLIENT_ID}) as client:
                mine = [client.post("/api/v1/tasks", json={"prompt": "p", "steps": 2}).json()["id"] for _ in range(2)]
                place = attached.move(mine[1], "front")
                assert place == client.get(f"/api/v1/tasks/{mine[1]}").json()["position"]
                assert place < client.get(f"/api/v1/tasks/{mine[0]}").json()["position"]
            wrong = run_cli("queue", "move", ids[0], "sideways", env=env, cwd=tmp_path)
            assert wrong.returncode == 2 and "invalid choice: 'sideways'" in wrong.stderr
            assert run_cli("queue", "cancel", env=env, cwd=tmp_path).returncode == 0
            refused = run_cli("queue", "move", ids[0], "up", env=env, cwd=tmp_path)
            assert refused.returncode == 2 and "is cancelled, not queued" in refused.stderr
            assert "Traceback" not in refused.stderr
            attached.cancel_queue()
            try:
                attached.move(mine[0], "up")
            except ValueError as exc:
                assert "not queued" in str(exc)
            else:
                raise AssertionError("a cancelled task moved")
        finally:
            attached.close()
    finally:
        served.runtime.service.store.set_paused(False)


def test_the_python_api_moves_a_queued_task_in_process(server_model: str, tmp_path: Path) -> None:
    with Pixelforge(model=server_model, data_dir=tmp_path) as pf:
        assert pf.runtime is not None
        pf.runtime.service.store.set_paused(True)
        first, second = pf.submit("a", steps=2), pf.submit("b", steps=2)
        assert second.move("front") == 1
        assert first.task.position == 2
        pf.cancel_queue()
        try:
            first.move("up")
        except ValueError as exc:
            assert "is cancelled, not queued" in str(exc)
        else:
            raise AssertionError("a cancelled task moved")


def test_the_queue_policy_is_a_serve_and_worker_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXELFORGE_QUEUE_POLICY", raising=False)
    parser = build_parser(with_pixelate=False)
    assert settings_from(parser.parse_args(["serve"])).queue_policy == "fair"
    assert settings_from(parser.parse_args(["serve", "--queue-policy", "fifo"])).queue_policy == "fifo"
    worker = parser.parse_args(["worker", "--redis", "redis://127.0.0.1:9/0", "--queue-policy", "fifo"])
    assert settings_from(worker).queue_policy == "fifo"
    monkeypatch.setenv("PIXELFORGE_QUEUE_POLICY", "fifo")
    assert settings_from(parser.parse_args(["serve"])).queue_policy == "fifo"
    monkeypatch.setenv("PIXELFORGE_QUEUE_POLICY", "random")
    with pytest.raises(UsageError, match="queue_policy"):
        settings_from(parser.parse_args(["serve"]))
