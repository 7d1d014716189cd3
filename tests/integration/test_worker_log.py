"""A `pixelforge worker` logs one line per task it ran: worker, task id, model, outcome and time (issue 26,
item 8), with a real Redis and a real worker process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelforge.config import Settings
from pixelforge.distributed import redis_service
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.testing.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_a_worker_logs_one_line_per_task(redis: RedisServer, server_model: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model=server_model, redis_url=redis.url, device="cpu")
    service = redis_service(settings)
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "pixelforge.cli", "worker", "--redis", redis.url, "--data-dir",
             str(settings.data_dir), "--device", "cpu", "--model", server_model, "--worker-id", "w1"],
            env=env, stdout=log, stderr=log)
    try:
        done = service.submit(TaskParams(prompt="a red apple", steps=2, width=32, height=32), owner="key:user")
        stopped = service.submit(TaskParams(prompt="a cat", steps=2, width=32, height=32), owner="key:user")
        service.interrupt(stopped.id)  # cancelled while queued: no worker ran it, no line
        assert service.wait(done.id, timeout=300).state is TaskState.COMPLETED
    finally:
        worker.terminate()
        worker.wait(60)
        service.bus.close()
        service.store.close()
    lines = [line for line in log_path.read_text().splitlines() if "pixelforge.engine.worker.tasks" in line]
    model = re.escape(server_model)
    assert len(lines) == 1, log_path.read_text()
    assert re.search(rf"INFO pixelforge\.engine\.worker\.tasks: w1 {re.escape(done.id)} {model} completed in "
                     r"\d+\.\d s$", lines[0]), lines[0]
