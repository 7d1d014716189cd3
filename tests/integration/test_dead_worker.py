"""A worker killed with -9 while it runs a task (issue 26.2), with real processes and a real Redis: within a lease
(6 s by default: a heartbeat every 2 s) the health route answers 503 naming it, another worker takes its task over,
and the task's events say "Worker lost — requeued, attempt 2"."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from pixelforge.config import Settings
from pixelforge.distributed import ApiRuntime, WorkerProcess, redis_service
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.tasks.service import TaskService
from pixelforge.testing.hooks import HOLD_LIMIT_S
from pixelforge.testing.live_server import LiveServer, serve_runtime
from pixelforge.testing.redis_server import RedisServer
from tests.integration.test_distributed import LONG, _wait_until_it_beats, _worker_process, settings_for


@dataclass
class DoomedDeployment:
    """An API server and one worker process, "doomed", that beats already; a second worker on demand."""

    settings: Settings
    service: TaskService
    server: LiveServer
    doomed: subprocess.Popen[bytes]
    survivor: WorkerProcess | None = None

    def start_survivor(self) -> None:
        self.survivor = WorkerProcess(self.settings, worker_id="survivor")
        self.survivor.start()

    def kill_doomed(self) -> None:
        if self.doomed.poll() is None:
            self.doomed.send_signal(signal.SIGKILL)
            self.doomed.wait(30)


@contextmanager
def doomed_deployment(settings: Settings, log_path: Path) -> Iterator[DoomedDeployment]:
    service = redis_service(settings)
    server = serve_runtime(ApiRuntime(settings))
    deployment = DoomedDeployment(settings, service, server, _worker_process(settings, log_path))
    try:
        _wait_until_it_beats(service, deployment.doomed, log_path)
        yield deployment
    finally:
        server.stop()
        deployment.kill_doomed()
        if deployment.survivor is not None:
            deployment.survivor.stop()
        service.bus.close()
        service.store.close()


def test_a_worker_killed_mid_task_is_seen_lost_at_once_and_its_task_requeued(
    redis_server: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis_server, tmp_path / "data", server_model)
    assert settings.worker_lease_s == Settings.model_fields["worker_lease_s"].default == 6.0  # the default's figure
    with doomed_deployment(settings, tmp_path / "worker.log") as deployment:
        service, url = deployment.service, deployment.server.url
        task = service.submit(TaskParams(**LONG), owner="key:user")
        for event in service.events(task.id, timeout=HOLD_LIMIT_S):
            if event.type is EventType.PROGRESS and event.data["step"] >= 1:
                break  # running on the doomed worker, inside its denoising loop
        deployment.start_survivor()  # idle, healthy: health is ok only while the doomed one beats too
        assert httpx.get(f"{url}/api/v1/health", timeout=30).status_code == 200
        killed_at = time.monotonic()
        deployment.kill_doomed()
        while (health := httpx.get(f"{url}/api/v1/health", timeout=30)).status_code == 200:
            assert time.monotonic() - killed_at < 60, "the lost worker was never seen"
            time.sleep(0.1)  # another process's death: only its silence tells it
        print(f"\nworker lost seen by health {time.monotonic() - killed_at:.1f} s after kill -9")
        lost = [w for w in health.json()["workers"] if w["worker_id"] == "doomed"]
        assert len(lost) == 1 and not lost[0]["alive"] and lost[0]["problem"].startswith("lost: no heartbeat")
        assert task.id in lost[0]["problem"]
        done = service.wait(task.id, timeout=HOLD_LIMIT_S)
        assert done.state is TaskState.COMPLETED
        requeued = [e.data for e in service.store.events_since(task.id) if "requeued" in e.data]
        assert len(requeued) == 1 and requeued[0]["textinfo"] == "Worker lost — requeued, attempt 2"
        assert requeued[0]["attempt"] == 2 and "worker doomed stopped" in requeued[0]["requeued"]
