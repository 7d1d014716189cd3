"""`pixelforge queue` (list, cancel, retry) and `generate --forever --stop-after-image` against a real server
(issue 29)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from clikit import cli_env, run_cli

from pixelforge.cli.client import CLIENT_ID
from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer


def test_forever_with_stop_after_image_keeps_whole_images_only(served: LiveServer, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pixelforge.cli", "generate", "x", "--steps", "4", "--forever", "--stop-after-image",
         "--seed", "1", "--out", "o", "--server", served.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=tmp_path,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip().endswith(".png")  # the first image is finished and downloaded
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Stopping after this image" in stderr and "Traceback" not in stderr
    assert re.search(r"interrupted \(user\); kept \d+ images?$", stderr.strip()), stderr
    task = served.runtime.store.list(limit=1)[0]
    assert task.params.batch_count == 0 and task.state is TaskState.INTERRUPTED
    assert task.images and not any(image.partial for image in task.images)  # the image being made was kept whole
    assert not list((tmp_path / "o").glob("*partial*"))


def test_queue_lists_cancels_and_retries_the_cli_s_tasks(served: LiveServer, tmp_path: Path) -> None:
    env = cli_env(PIXELFORGE_SERVER=served.url)
    served.runtime.service.store.set_paused(True)
    try:
        with httpx.Client(base_url=served.url, headers={"X-Client-Id": CLIENT_ID}) as client:
            ids = [client.post("/api/v1/tasks", json={"prompt": "q", "steps": 2}).json()["id"] for _ in range(2)]
        listed = run_cli("queue", "list", "--json", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert [t["id"] for t in json.loads(listed.stdout)] == ids
        assert ids[0] in run_cli("queue", env=env, cwd=tmp_path).stdout  # list is the default verb
        cancelled = run_cli("queue", "cancel", env=env, cwd=tmp_path)
        assert cancelled.returncode == 0 and cancelled.stdout.split() == ids
        retried = run_cli("queue", "retry", ids[0], env=env, cwd=tmp_path)
        assert retried.returncode == 0, retried.stderr
        new_id = retried.stdout.strip()
        assert served.runtime.service.get(new_id).origin.retried_from == ids[0]
        assert run_cli("queue", "cancel", new_id, env=env, cwd=tmp_path).stdout.split() == [new_id]
        refused = run_cli("queue", "retry", "task(nope)", env=env, cwd=tmp_path)
        assert refused.returncode == 2 and refused.stderr.strip() == "pixelforge: unknown task id: task(nope)"
        none = run_cli("queue", env=cli_env(PIXELFORGE_SERVER="none"), cwd=tmp_path)
        assert none.returncode == 2 and "no pixelforge server is running" in none.stderr
    finally:
        served.runtime.service.store.set_paused(False)
