"""Distributed mode on a real redis-server: stop latency through Redis vs in one process, and throughput
with 1, 2 and 3 workers, on the bundled sprite model on the CPU.

Stop latency: a task is interrupted (``service.interrupt``) at a random moment of its denoising, timed
from the call to the task's ``interrupted`` event (the worker stamps the event; same machine, same
clock). In one process the stop is a store write and a call into the worker's token; in distributed
mode it is a Redis write and a pub/sub message to a ``pixelforge worker`` process, which stops inside
the step (block hooks) and stores the end with its event. A third row runs the same Redis path with
the worker in the benchmark's own process, which separates Redis from the scheduling of a second busy
process on a loaded machine.

Throughput: ``--tasks`` sprites queued at once on a fresh namespace, with 1, 2, 3 ``pixelforge worker``
processes started beforehand (model loaded); timed from the first submission to the last ``completed``.
The ``split`` table queues the same sprites as one task of ``--tasks`` jobs with ``split_batches`` on, so the
workers share one batch.

    python benchmarks/redis_stop_latency.py [--trials 20] [--tasks 12] [--seed 0]
        [--parts hop,stop,throughput,split]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from stop_latency import service_stop_latencies

from pixelforge.config import Settings
from pixelforge.distributed import WorkerProcess, redis_service
from pixelforge.runtime import Runtime
from pixelforge.stores.redis.bus import RedisEventBus
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.model import EventType, StopRequest, Task, TaskParams, TaskState
from pixelforge.tasks.service import TaskService
from pixelforge.testing.percentiles import percentile
from pixelforge.testing.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[1]
PARAMS = TaskParams(prompt="a knight with a sword", model="sprite", seed=1)
# A worker process imports torch and loads the model: generous on a loaded machine.
WORKER_START_LIMIT_S = 300


def hop_latencies(redis: RedisServer, trials: int) -> tuple[list[float], list[float]]:
    """(seconds of the stop's store write, seconds of the pub/sub hop to another bus's control handler), with
    nothing else running in this process: what Redis itself adds to a stop."""
    namespace = f"bench-{uuid.uuid4().hex}"
    store, sender, receiver = (RedisTaskStore(redis.url, namespace), RedisEventBus(redis.url, namespace),
                               RedisEventBus(redis.url, namespace))
    arrived, at = threading.Event(), [0.0]

    def on_stop(_task_id: str, _request: StopRequest) -> None:
        at[0] = time.perf_counter()
        arrived.set()

    receiver.on_control(on_stop)
    writes, hops = [], []
    try:
        for n in range(trials):
            task = store.create(Task(id=f"task(hop-{n})", params=PARAMS))[0]
            store.claim_next("bench")
            arrived.clear()
            start = time.perf_counter()
            store.request_stop(task.id, StopRequest())
            written = time.perf_counter()
            sender.publish_control(task.id, StopRequest())
            arrived.wait(10)
            writes.append(written - start)
            hops.append(at[0] - written)
    finally:
        receiver.close()
        sender.close()
        store.close()
    return writes, hops


def start_workers(settings: Settings, count: int, log: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PIXELFORGE_REDIS_NAMESPACE": settings.redis_namespace}
    with log.open("ab") as out:
        return [
            subprocess.Popen([sys.executable, "-m", "pixelforge.cli", "worker", "--redis", str(settings.redis_url),
                              "--data-dir", str(settings.data_dir), "--device", "cpu", "--model", "sprite"],
                             env=env, stdout=out, stderr=out)
            for _ in range(count)
        ]


def wait_for_workers(service: TaskService, count: int, log: Path) -> None:
    deadline = time.monotonic() + WORKER_START_LIMIT_S
    while len(service.store.workers()) < count:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.2)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()


def distributed(
    redis: RedisServer, data_dir: Path, workers: int, split_batches: bool = False
) -> tuple[Settings, TaskService, list]:
    settings = Settings(data_dir=data_dir, redis_url=redis.url, redis_namespace=f"bench-{uuid.uuid4().hex}",
                        max_queued_total=1000, max_active_per_identity=1000, preview_every=0,
                        split_batches=split_batches)
    service = redis_service(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "workers.log"
    processes = start_workers(settings, workers, log)
    wait_for_workers(service, workers, log)
    return settings, service, processes


def throughput(redis: RedisServer, data_dir: Path, workers: int, tasks: int) -> tuple[float, int]:
    """(seconds for ``tasks`` sprites, distinct workers that ran them)."""
    _, service, processes = distributed(redis, data_dir, workers)
    try:
        service.wait(service.submit(PARAMS).id, timeout=600)  # every worker has loaded; one warm run
        start = time.monotonic()
        ids = [service.submit(PARAMS).id for _ in range(tasks)]
        ran_on = set()
        for task_id in ids:
            assert service.wait(task_id, timeout=1800).state is TaskState.COMPLETED
            started = [e for e in service.store.events_since(task_id) if e.type is EventType.STARTED]
            ran_on.add(started[-1].data.get("worker_id", "?"))
        return time.monotonic() - start, len(ran_on)
    finally:
        stop_workers(processes)
        service.bus.close()
        service.store.close()


def split_throughput(redis: RedisServer, data_dir: Path, workers: int, jobs: int) -> tuple[float, int]:
    """(seconds for one task of ``jobs`` one-sprite jobs split over the workers, distinct workers that ran jobs)."""
    _, service, processes = distributed(redis, data_dir, workers, split_batches=True)
    try:
        service.wait(service.submit(PARAMS).id, timeout=600)  # every worker has loaded; one warm run
        start = time.monotonic()
        task = service.wait(service.submit(PARAMS.model_copy(update={"batch_count": jobs})).id, timeout=1800)
        seconds = time.monotonic() - start
        assert task.state is TaskState.COMPLETED and len(task.images) == jobs
        store = service.store
        assert isinstance(store, RedisTaskStore)
        ran_on = {store.redis.hget(store.keys.task(task.id), f"job:{job}:worker") for job in range(jobs)}
        return seconds, len(ran_on)
    finally:
        stop_workers(processes)
        service.bus.close()
        service.store.close()


def worker_table(
    title: str, measure: Callable[[RedisServer, Path, int, int], tuple[float, int]], redis: RedisServer, root: Path,
    sprites: int,
) -> None:
    """A table of ``measure`` (seconds, distinct workers used) with 1, 2 and 3 workers."""
    print(f"{title}\n")
    print("| workers | seconds | sprites/min | workers that ran some |\n|---|---|---|---|")
    for workers in (1, 2, 3):
        seconds, used = measure(redis, root.with_name(f"{root.name}-{workers}"), workers, sprites)
        print(f"| {workers} | {seconds:.1f} | {sprites / seconds * 60:.1f} | {used} |")
    print()


def row(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"| {label} | {len(ms)} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | {max(ms):.1f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="hop,stop,throughput", help="which tables, comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis = RedisServer(root / "redis").start()
        try:
            if "hop" in parts:
                writes, hops = hop_latencies(redis, args.trials * 5)
                print("Redis alone, in an idle process (ms)\n")
                print("| step | trials | p50 | p95 | max |\n|---|---|---|---|---|")
                print(row("request_stop (Lua write + read back)", writes))
                print(row("pub/sub hop to another bus's handler", hops))
                print()
            if "stop" in parts:
                stop_table(redis, root, args.trials, rng)
            if "throughput" in parts:
                title = f"Throughput: {args.tasks} sprites (default steps) queued at once"
                worker_table(title, throughput, redis, root / "throughput", args.tasks)
            if "split" in parts:
                title = f"One task of {args.tasks} one-sprite jobs, split_batches on"
                worker_table(title, split_throughput, redis, root / "split", args.tasks)
        finally:
            redis.stop()
    return 0


def stop_table(redis: RedisServer, root: Path, trials: int, rng: random.Random) -> None:
    runtime = Runtime(Settings(data_dir=root / "single", device="cpu", preview_every=0))
    runtime.start()
    try:
        in_process = service_stop_latencies(runtime.service, PARAMS, trials, rng)
    finally:
        runtime.stop()
    _, service, processes = distributed(redis, root / "latency", 1)
    try:
        through_redis = service_stop_latencies(service, PARAMS, trials, rng)
    finally:
        stop_workers(processes)
        service.bus.close()
        service.store.close()
    settings, service, _ = distributed(redis, root / "latency-here", 0)
    worker = WorkerProcess(settings.model_copy(update={"device": "cpu"}))
    worker.start()
    try:
        redis_same_process = service_stop_latencies(service, PARAMS, trials, rng)
    finally:
        worker.stop()
        service.bus.close()
        service.store.close()
    print("Stop latency: interrupt call -> interrupted event (ms)\n")
    print("| path | trials | p50 | p95 | max |\n|---|---|---|---|---|")
    print(row("one process (SQLite, in-process bus)", in_process))
    print(row("Redis (pub/sub to a worker process)", through_redis))
    print(row("Redis (pub/sub, the worker in this process)", redis_same_process))
    print()


if __name__ == "__main__":
    sys.exit(main())
