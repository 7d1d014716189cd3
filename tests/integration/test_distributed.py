"""Distributed mode end to end on a real redis-server: two API servers and three CPU workers (in this
process, each with its own Redis connections, store, bus and model) on the bundled model, plus one
``pixelforge worker`` process that is killed with -9 mid-task.

Moments are reached with hooks inside the workers' denoisers (``Hold``), never by sleeping: three
tasks held at once on three workers prove that they spread; a task held inside a step is stopped by
an interrupt sent to the other server.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch
from PIL import Image

from pixelforge.config import Settings
from pixelforge.distributed import ApiRuntime, WorkerProcess, redis_service
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import EventType, TaskEnd, TaskParams, TaskState
from pixelforge.tasks.service import TaskService
from pixelforge.testing.hooks import HOLD_LIMIT_S, Hold
from pixelforge.testing.live_server import LiveServer, serve_runtime
from pixelforge.testing.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]
USER, ADMIN = {"Authorization": "Bearer user-key-0123456789"}, {"Authorization": "Bearer admin-key-0123456789"}
QUICK = {"prompt": "a knight with a sword", "steps": 3, "width": 32, "height": 32}
LONG = {"prompt": "a slow dragon", "steps": 150, "width": 32, "height": 32}


@dataclass
class Deployment:
    redis: RedisServer
    settings: Settings
    servers: list[LiveServer]
    workers: list[WorkerProcess]

    def client(self, server: int, headers: dict[str, str] = USER) -> httpx.Client:
        return httpx.Client(base_url=self.servers[server].url, headers=headers, timeout=120)


def settings_for(redis: RedisServer, data_dir: Path, model: str, **overrides: object) -> Settings:
    return Settings(
        data_dir=data_dir, model=model, device="cpu", redis_url=redis.url, redis_namespace=f"t-{uuid.uuid4().hex}",
        api_keys={"user": USER["Authorization"][7:]}, admin_keys={"admin": ADMIN["Authorization"][7:]},
        preview_every=0, **overrides,
    )


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()  # this module's own: it gets killed
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(redis: RedisServer, server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    settings = settings_for(redis, tmp_path_factory.mktemp("shared-data"), server_model)
    servers = [serve_runtime(ApiRuntime(settings)) for _ in range(2)]
    workers = [WorkerProcess(settings, worker_id=f"worker-{n}") for n in (1, 2, 3)]
    for worker in workers:
        worker.start()
    yield Deployment(redis, settings, servers, workers)
    for worker in workers:
        worker.stop()
    for server in servers:
        server.stop()


def denoiser(worker: WorkerProcess) -> torch.nn.Module:
    model = worker.backend.load(worker.settings.model, None, 1.0)
    return getattr(model.pipe, model.denoiser_name)


def sse(client: httpx.Client, task_id: str, last_event_id: int | None = None) -> list[dict[str, str]]:
    """Every SSE message of the task until its stream ends (after the terminal event)."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    messages, message = [], {}
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", headers=headers) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line == "":
                if "data" in message:
                    messages.append(message)
                message = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                message[field] = value
    return messages


def submit(client: httpx.Client, params: dict) -> str:
    response = client.post("/api/v1/tasks", json=params)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def held_until(release: threading.Event) -> Callable[[float], bool]:
    return lambda timeout: release.wait(timeout)


def test_tasks_spread_over_the_workers_and_admins_see_them(deployment: Deployment) -> None:
    release = threading.Event()
    holds = [Hold(denoiser(w), when=lambda: True, until=held_until(release)) for w in deployment.workers]
    try:
        with deployment.client(0) as a:
            task_ids = [submit(a, QUICK) for _ in range(3)]
            for hold in holds:  # each worker holds its first task inside a step: three at once
                assert hold.reached.wait(HOLD_LIMIT_S)
            for worker in deployment.workers:
                worker.heartbeat()
            with deployment.client(1, ADMIN) as admin_b, deployment.client(1) as b:
                listed = admin_b.get("/api/v1/workers").json()
                assert b.get("/api/v1/workers").status_code == 403
            assert {w["worker_id"] for w in listed} == {"worker-1", "worker-2", "worker-3"}
            assert sorted(w["task_id"] for w in listed) == sorted(task_ids)
            assert {w["device"] for w in listed} == {"cpu"} and all(w["models"] for w in listed)
            release.set()
            for task_id in task_ids:
                assert sse(a, task_id)[-1]["event"] == "completed"
    finally:
        release.set()
        for hold in holds:
            hold.remove()


def test_an_interrupt_sent_to_one_server_stops_the_task_inside_a_step_on_its_worker(deployment: Deployment) -> None:
    service = deployment.workers[0].service
    target: dict[str, str] = {}

    def running_target(worker: WorkerProcess) -> Callable[[], bool]:
        return lambda: worker.worker.health().task_id == target.get("id")

    def until_stopped(worker: WorkerProcess) -> Callable[[float], bool]:
        def wait(timeout: float) -> bool:
            token = worker.tokens.running(target["id"])
            return token is not None and token.wait(timeout)

        return wait

    holds = [Hold(denoiser(w), when=running_target(w), until=until_stopped(w)) for w in deployment.workers]
    service.store.set_paused(True)  # the target's id is known before any worker can run it
    try:
        with deployment.client(0) as a, deployment.client(1) as b:
            target["id"] = submit(b, LONG)
            service.store.set_paused(False)
            reached = threading.Event()
            waiters = [threading.Thread(target=lambda h=h: h.reached.wait(HOLD_LIMIT_S) and reached.set(), daemon=True)
                       for h in holds]
            for waiter in waiters:
                waiter.start()
            assert reached.wait(HOLD_LIMIT_S)
            assert sum(h.reached.is_set() for h in holds) == 1  # one worker runs it
            response = a.post(f"/api/v1/tasks/{target['id']}/interrupt", json={"keep_partial": False})
            assert response.status_code == 200, response.text
            events = sse(a, target["id"])
            assert events[-1]["event"] == "interrupted"
            task = a.get(f"/api/v1/tasks/{target['id']}").json()
            assert task["state"] == "interrupted" and task["progress"]["step"] < LONG["steps"]
    finally:
        service.store.set_paused(False)
        for hold in holds:
            hold.remove()


@pytest.fixture(scope="module")
def split_server(deployment: Deployment) -> Iterator[LiveServer]:
    """An API server of the same deployment with ``split_batches`` on: the servers queue the jobs, so the same
    three workers run the batches it queues a job per worker."""
    server = serve_runtime(ApiRuntime(deployment.settings.model_copy(update={"split_batches": True})))
    yield server
    server.stop()


def split_client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=USER, timeout=120)


def until_its_job_is_stopped(worker: WorkerProcess) -> Callable[[float], bool]:
    def wait(timeout: float) -> bool:
        task_id = worker.worker.health().task_id
        token = worker.tokens.running(task_id) if task_id is not None else None
        return token is not None and token.wait(timeout)

    return wait


def test_a_split_batch_runs_its_jobs_on_three_workers_at_once_and_keeps_the_image_order(
    deployment: Deployment, split_server: LiveServer
) -> None:
    release = threading.Event()
    holds = [Hold(denoiser(w), when=lambda: True, until=held_until(release)) for w in deployment.workers]
    try:
        with split_client(split_server) as client:
            task_id = submit(client, QUICK | {"batch_count": 3, "batch_size": 2, "seed": 100})
            for hold in holds:  # each worker holds a job of the one task inside a step: three jobs at once
                assert hold.reached.wait(HOLD_LIMIT_S)
            assert [w.worker.health().task_id for w in deployment.workers] == [task_id] * 3
            release.set()
            events = sse(client, task_id)
            assert events[-1]["event"] == "completed"
            assert [e["event"] for e in events].count("started") == 1
            task = client.get(f"/api/v1/tasks/{task_id}").json()
    finally:
        release.set()
        for hold in holds:
            hold.remove()
    images = task["images"]
    assert [(i["index"], i["job_no"], i["seed"]) for i in images] == [(n, n // 2, 100 + n) for n in range(6)]
    assert task["progress"]["progress"] == 1.0 and task["stats"]["steps_run"] == 3 * QUICK["steps"]
    sheet = deployment.settings.data_dir / task["info"]["sprite_sheet"]
    with Image.open(sheet) as picture:  # the batch's sheet holds all six sprites (32 px, 1 px apart), from 3 workers
        assert (picture.width + 1) // 33 * ((picture.height + 1) // 33) == 6


def from_call(first: int) -> Callable[[], bool]:
    """A ``when`` for :class:`Hold`: true from the denoiser's call number ``first`` on (0: the first call)."""
    calls = itertools.count()
    return lambda: next(calls) >= first


def stop_a_held_split_batch(
    deployment: Deployment, client: httpx.Client, via: httpx.Client, params: dict, action: str, hold_from: int
) -> tuple[str, dict]:
    """Submit a split batch through ``client``, hold a job of it on each of the three workers inside a step (from
    the denoiser's call ``hold_from`` on), send ``action`` (interrupt keeping nothing, or skip keeping the partials)
    through ``via``; returns the task's terminal event and the task."""
    holds = [Hold(denoiser(w), when=from_call(hold_from), until=until_its_job_is_stopped(w))
             for w in deployment.workers]
    try:
        task_id = submit(client, params)
        for hold in holds:
            assert hold.reached.wait(HOLD_LIMIT_S)
        response = via.post(f"/api/v1/tasks/{task_id}/{action}", json={"keep_partial": action == "skip"})
        assert response.status_code == 200, response.text
        last = sse(client, task_id)[-1]["event"]
        return last, client.get(f"/api/v1/tasks/{task_id}").json()
    finally:
        for hold in holds:
            hold.remove()


def test_an_interrupt_stops_every_job_of_a_split_batch_and_the_jobs_not_started_never_run(
    deployment: Deployment, split_server: LiveServer
) -> None:
    with split_client(split_server) as client, deployment.client(0) as other_server:
        last, task = stop_a_held_split_batch(deployment, client, other_server, LONG | {"batch_count": 4}, "interrupt",
                                             hold_from=0)
    assert last == "interrupted" and task["images"] == []  # each job stopped inside its first step
    assert task["stats"]["steps_run"] < 3


def test_a_skip_ends_the_running_jobs_of_a_split_batch_and_the_waiting_job_still_runs(
    deployment: Deployment, split_server: LiveServer
) -> None:
    with split_client(split_server) as client:
        # Held from each denoiser's second call on: one step has an estimate to keep.
        last, task = stop_a_held_split_batch(deployment, client, client, QUICK | {"batch_count": 4, "seed": 5}, "skip",
                                             hold_from=1)
    assert last == "completed"
    assert [(i["index"], i["seed"], i["partial"]) for i in task["images"]] == [
        (0, 5, True), (1, 6, True), (2, 7, True), (3, 8, False)]


def test_events_replay_through_the_other_server(deployment: Deployment) -> None:
    with deployment.client(0) as a, deployment.client(1) as b:
        task_id = submit(a, QUICK)
        on_a = sse(a, task_id)
        assert on_a[-1]["event"] == "completed"
        on_b = sse(b, task_id, last_event_id=1)
        assert on_b == on_a[1:] and on_b[0]["id"] == "2"
        image = a.get(f"/api/v1/tasks/{task_id}").json()["images"][0]
        assert b.get(image["url"]).status_code == 200  # the shared data dir serves it from either server


def test_redis_killed_and_restarted_everything_reconnects_and_no_queued_task_is_lost(
    deployment: Deployment,
) -> None:
    with deployment.client(0, ADMIN) as admin_a, deployment.client(0) as a, deployment.client(1) as b:
        assert admin_a.post("/api/v1/queue/pause").status_code == 200
        task_ids = [submit(a, QUICK) for _ in range(3)]
        deployment.redis.kill()
        deployment.redis.start()
        queued = b.get("/api/v1/tasks", params={"state": "queued"}).json()
        assert sorted(t["id"] for t in queued["tasks"]) == sorted(task_ids)
        assert admin_a.post("/api/v1/queue/resume").status_code == 200
        for task_id in task_ids:
            assert sse(b, task_id)[-1]["event"] == "completed"


def _worker_process(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PIXELFORGE_REDIS_NAMESPACE": settings.redis_namespace,
           "PIXELFORGE_WORKER_LEASE_S": str(settings.worker_lease_s)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pixelforge.cli", "worker", "--redis", str(settings.redis_url), "--data-dir",
             str(settings.data_dir), "--device", "cpu", "--model", settings.model, "--worker-id", "doomed"],
            env=env, stdout=log, stderr=log,
        )


def test_a_worker_that_shuts_down_mid_job_gives_its_job_back_and_the_batch_still_completes(
    redis: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis, tmp_path / "data", server_model, split_batches=True)
    service = redis_service(settings)
    leaving, staying = (WorkerProcess(settings, worker_id=name) for name in ("leaving", "staying"))
    release = threading.Event()
    holds = [Hold(denoiser(leaving), when=lambda: True, until=until_its_job_is_stopped(leaving)),
             Hold(denoiser(staying), when=lambda: True, until=held_until(release))]
    try:
        leaving.start()
        staying.start()
        task = service.submit(TaskParams(**QUICK | {"batch_count": 2, "seed": 60}), owner="key:user")
        for hold in holds:  # a job of the batch on each worker, inside a step
            assert hold.reached.wait(HOLD_LIMIT_S)
        leaving.stop()  # SIGTERM: its job goes back to the queue instead of ending the batch
        release.set()
        done = service.wait(task.id, timeout=HOLD_LIMIT_S)
        assert done.state is TaskState.COMPLETED and done.stop_reason is None
        assert [(i.index, i.seed, i.partial) for i in done.images] == [(0, 60, False), (1, 61, False)]
    finally:
        release.set()
        for hold in holds:
            hold.remove()
        leaving.stop()
        staying.stop()
        service.bus.close()
        service.store.close()


def _wait_until_it_beats(service: TaskService, doomed: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 300
    while not any(w.worker_id == "doomed" for w in service.store.workers()):  # type: ignore[attr-defined]
        assert doomed.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.1)  # a new process: nothing to subscribe to until it has said hello


def test_a_worker_killed_mid_job_of_a_split_batch_costs_only_its_job_which_another_worker_runs_again(
    redis: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis, tmp_path / "data", server_model, worker_lease_s=1.5, split_batches=True)
    service = redis_service(settings)
    store = service.store
    assert isinstance(store, RedisTaskStore)
    log_path = tmp_path / "worker.log"
    doomed = _worker_process(settings, log_path)
    steady = WorkerProcess(settings, worker_id="steady")
    release = threading.Event()
    hold = Hold(denoiser(steady), when=lambda: True, until=held_until(release))
    try:
        _wait_until_it_beats(service, doomed, log_path)
        steady.start()
        task = service.submit(TaskParams(**LONG | {"batch_count": 2, "seed": 40}), owner="key:user")
        assert hold.reached.wait(HOLD_LIMIT_S)  # the steady worker holds one job; the doomed one runs the other
        key = store.keys.task(task.id)

        def doomed_job_past_its_first_step() -> int | None:
            for job in (0, 1):
                fields = store.redis.hmget(key, f"job:{job}:worker", f"job:{job}:progress")
                if fields[0] == b"doomed" and fields[1] and b'"step":0' not in fields[1]:
                    return job
            return None

        deadline = time.monotonic() + HOLD_LIMIT_S
        while (job := doomed_job_past_its_first_step()) is None:
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.05)  # another process: its claim and first step are seen in the store
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
        release.set()
        done = service.wait(task.id, timeout=HOLD_LIMIT_S)
        assert done.state is TaskState.COMPLETED, done.error
        assert [(i.index, i.job_no, i.seed, i.partial) for i in done.images] == [(0, 0, 40, False), (1, 1, 41, False)]
        events = service.store.events_since(task.id)
        requeued = [e.data for e in events if "requeued" in e.data]
        assert len(requeued) == 1 and requeued[0]["job_no"] == job and requeued[0]["attempt"] == 2
        assert f"worker doomed stopped while running job {job + 1}" in requeued[0]["requeued"]
        assert [e.data["worker_id"] for e in events if e.type is EventType.STARTED][-1] == "steady"
    finally:
        release.set()
        hold.remove()
        if doomed.poll() is None:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(30)
        steady.stop()
        service.bus.close()
        store.close()


def test_a_worker_killed_mid_task_has_its_task_taken_over_and_finished_the_others_untouched(
    redis: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis, tmp_path / "data", server_model, worker_lease_s=1.5)
    service = redis_service(settings)
    server = serve_runtime(ApiRuntime(settings))
    log_path = tmp_path / "worker.log"
    doomed = _worker_process(settings, log_path)
    survivor = None
    try:
        _wait_until_it_beats(service, doomed, log_path)
        victim = service.submit(TaskParams(**LONG), owner="key:user")  # the owner the API key "user" has
        for event in service.events(victim.id, timeout=HOLD_LIMIT_S):
            if event.type is EventType.PROGRESS and event.data["step"] >= 1:
                break  # running on the doomed worker, inside its denoising loop
        bystander = service.submit(TaskParams(**QUICK), owner="key:user")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
        survivor = WorkerProcess(settings, worker_id="survivor")
        survivor.start()
        assert service.wait(bystander.id, timeout=HOLD_LIMIT_S).state is TaskState.COMPLETED
        assert service.wait(victim.id, timeout=HOLD_LIMIT_S).state is TaskState.COMPLETED
        requeued = [e for e in service.store.events_since(victim.id) if "requeued" in e.data]
        assert len(requeued) == 1 and "worker doomed stopped" in requeued[0].data["requeued"]
        assert requeued[0].data["attempt"] == 2
        assert not any("requeued" in e.data for e in service.store.events_since(bystander.id))
        with httpx.Client(base_url=server.url, headers=USER, timeout=120) as client:  # as watchers see it
            shown = [(m["event"], json.loads(m["data"])["data"]) for m in sse(client, victim.id)]
        starts = [data["worker_id"] for event, data in shown if event == "started"]
        assert starts == ["doomed", "survivor"]
        assert [data["attempt"] for event, data in shown if event == "queued" and data["requeued"]] == [2]
        assert shown[-1][0] == "completed"
    finally:
        server.stop()
        if doomed.poll() is None:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(30)
        if survivor is not None:
            survivor.stop()
        service.bus.close()
        service.store.close()


def test_a_worker_that_lost_its_task_to_another_stops_its_run_and_its_end_is_dropped(deployment: Deployment) -> None:
    service = deployment.workers[0].service
    target: dict[str, str] = {}
    holds = {
        w.worker_id: Hold(denoiser(w), when=lambda w=w: w.worker.health().task_id == target.get("id"),
                          until=lambda timeout, w=w: (t := w.tokens.running(target["id"])) is not None
                          and t.wait(timeout))
        for w in deployment.workers
    }
    # lease_s=0: the entry is overdue at once, as if the worker had been cut off from Redis for a whole lease.
    thief = RedisTaskStore(str(deployment.settings.redis_url), deployment.settings.redis_namespace, lease_s=0)
    service.store.set_paused(True)
    try:
        target["id"] = service.submit(TaskParams(**LONG), owner="key:user").id
        service.store.set_paused(False)
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not any(h.reached.is_set() for h in holds.values()):  # whichever worker claimed it is inside a step
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [loser] = [w for w in deployment.workers if holds[w.worker_id].reached.is_set()]
        taken = thief.claim_next("thief")
        assert taken is not None and taken.id == target["id"]
        loser.heartbeat()  # finds its entry gone: stops its own run
        # Its end is dropped without an event to follow: the worker's own fault record says when it came.
        while "now run by worker thief" not in (loser.worker.health().last_error or ""):
            assert time.monotonic() < deadline, loser.worker.health()
            time.sleep(0.05)
        after = service.get(target["id"])
        assert after.state is TaskState.RUNNING  # the stale worker's end was dropped
        thief.finish(target["id"], TaskEnd(state=TaskState.COMPLETED, worker_id="thief"))
        assert service.wait(target["id"], timeout=HOLD_LIMIT_S).state is TaskState.COMPLETED
    finally:
        service.store.set_paused(False)
        for hold in holds.values():
            hold.remove()
        thief.close()


def test_health_answers_503_for_a_worker_whose_task_loop_ended_while_its_process_beats_on(
    redis: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = settings_for(redis, tmp_path / "data", server_model)
    server = serve_runtime(ApiRuntime(settings))
    worker = WorkerProcess(settings, worker_id="lonely")
    try:
        worker.start()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            healthy = client.get("/api/v1/health")
            assert healthy.status_code == 200 and [w["worker_id"] for w in healthy.json()["workers"]] == ["lonely"]
            worker.worker.stop()  # the loop that claims tasks ends; the heartbeat thread does not
            worker.heartbeat()
            sick = client.get("/api/v1/health")
            assert sick.status_code == 503 and sick.json()["status"] == "unhealthy"
            assert sick.json()["workers"] == [{"worker_id": "lonely", "alive": False, "stuck": False,
                                               "last_error": None, "problem": None}]
    finally:
        worker.stop()
        server.stop()


def test_health_answers_503_while_no_worker_is_running(redis: RedisServer, server_model: str, tmp_path: Path) -> None:
    server = serve_runtime(ApiRuntime(settings_for(redis, tmp_path / "data", server_model)))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            alone = client.get("/api/v1/health")
        assert alone.status_code == 503 and alone.json()["workers"] == []  # queued tasks would wait for ever
    finally:
        server.stop()
