"""Health tells the truth about the workers: a stuck or dead worker answers 503, not "ok"."""

from __future__ import annotations

import threading
from pathlib import Path

from serverkit import ADMIN_KEYS, KEYS, QUICK, bearer

from pixelforge.config import Settings
from pixelforge.testing.hooks import Hold, denoiser
from pixelforge.testing.live_server import LiveServer, start_server


def test_health_answers_503_while_a_worker_is_stuck_or_dead(server_model: str, tmp_path: Path) -> None:
    live = start_server(Settings(data_dir=tmp_path, model=server_model, preview_every=0, worker_stuck_s=1e-9))
    release = threading.Event()
    hold = Hold(denoiser(live.runtime), when=lambda: True, until=release.wait)
    try:
        with live.client(headers={"X-Client-Id": "health-test"}) as client:
            idle = client.get("/api/v1/health")
            assert idle.status_code == 200 and idle.json()["status"] == "ok"
            assert [w["alive"] for w in idle.json()["workers"]] == [True]
            task = client.post("/api/v1/tasks", json=QUICK).json()
            assert hold.reached.wait(60)
            stuck = client.get("/api/v1/health")
            assert stuck.status_code == 503 and stuck.json()["status"] == "unhealthy"
            assert stuck.json()["workers"][0]["stuck"] is True
            release.set()
            assert client.get(f"/api/v1/tasks/{task['id']}").status_code == 200
            live.runtime.workers[0].stop()  # the worker ends while the server goes on
            dead = client.get("/api/v1/health")
            assert dead.status_code == 503 and dead.json()["workers"][0]["alive"] is False
    finally:
        release.set()
        hold.remove()
        live.stop()


def test_admins_list_the_workers_of_one_process_as_distributed_mode_lists_its_own(keyed: LiveServer) -> None:
    with keyed.client(headers=bearer(ADMIN_KEYS["root"])) as admin, keyed.client(headers=bearer(KEYS["alice"])) as user:
        listed = admin.get("/api/v1/workers")
        assert listed.status_code == 200
        [worker] = listed.json()
        assert worker["worker_id"] == "worker-0" and worker["device"] == str(keyed.runtime.workers[0].backend.device)
        refused = user.get("/api/v1/workers")
        assert refused.status_code == 403 and "only admins" in refused.json()["detail"]
