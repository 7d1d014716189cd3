"""A worker killed with -9 while it runs a task (issue 26.2), with real processes and a real Redis: within a lease
(6 s by default: a heartbeat every 2 s) the health route answers 503 naming it, another worker takes its task over,
and the task's events say "Worker lost — requeued, attempt 2"."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from pixelforge.config import Settings
from pixelforge.distributed import ApiRuntime, WorkerProcess, redis_service
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.testing.hooks import HOLD_LIMIT_S
from pixelforge.testing.live_server import serve_runtime
from pixelforge.testing.redis_server import RedisServer
from tests.integration.test_distributed import LONG, _wait_until_it_beats, _worker_process, settings_for


def test_a_worker_killed_mid_task_is_seen_lost_at_once_and_its_task_requeued(
    redis_server: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis_server, tmp_path / "data", server_model)
    assert settings.worker_lease_s == Settings.model_fields["worker_lease_s"].default == 6.0  # the default's figure
    service = redis_service(settings)
    server = serve_runtime(ApiRuntime(settings))
    log_path = tmp_path / "worker.log"
    doomed = _worker_process(settings, log_path)
    survivor = None
    try:
        _wait_until_it_beats(service, doomed, log_path)
        task = service.submit(TaskParams(**LONG), owner="key:user")
        for event in service.events(task.id, timeout=HOLD_LIMIT_S):
            if event.type is EventType.PROGRESS and event.data["step"] >= 1:
                break  # running on the doomed worker, inside its denoising loop
        survivor = WorkerProcess(settings, worker_id="survivor")
        survivor.start()  # idle, healthy: health is ok only while the doomed one beats too
        assert httpx.get(f"{server.url}/api/v1/health", timeout=30).status_code == 200
        doomed.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        doomed.wait(30)
        while (health := httpx.get(f"{server.url}/api/v1/health", timeout=30)).status_code == 200:
            assert time.monotonic() - killed_at < 60, "the lost worker was never seen"
            time.sleep(0.1)  # another process's death: only its silence tells it
        print(f"\nworker lost seen by health {time.monotonic() - killed_at:.1f} s after kill -9")
        lost = [w for w in health.json()["workers"] if w["worker_id"] == "doomed"]
        assert len(lost) == 1 and not lost[0]["alive"] and lost[0]["problem"].startswith("lost: no heartbeat")
        assert task.id in lost[0]["problem"]
        done = service.wait(task.id, timeout=HOLD_LIMIT_S)
        assert done.state is TaskState.COMPLETED
        requeued = [e.data for e in service.events_since(task.id) if "requeued" in e.data]
        assert len(requeued) == 1 and requeued[0]["textinfo"] == "Worker lost — requeued, attempt 2"
        assert requeued[0]["attempt"] == 2 and "worker doomed stopped" in requeued[0]["requeued"]
    finally:
        server.stop()
        if doomed.poll() is None:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(30)
        if survivor is not None:
            survivor.stop()
        service.bus.close()
        service.store.close()
