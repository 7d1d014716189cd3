"""Redis that does not answer, or goes away and comes back (issue 25.5), with a real redis-server of this test's own:
SIGSTOP makes health answer 503 naming Redis at once and every other request answer (503) instead of hanging; a
blocking txt2img waits through a Redis restart and answers its task's result."""

from __future__ import annotations

import base64
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixelforge.distributed import ApiRuntime, WorkerProcess
from pixelforge.stores.redis.keys import RECONNECT_TOTAL_S, SOCKET_TIMEOUT_S
from pixelforge.testing.hooks import HOLD_LIMIT_S, Hold
from pixelforge.testing.live_server import LiveServer, serve_runtime
from pixelforge.testing.redis_server import RedisServer
from tests.integration.test_distributed import USER, denoiser, settings_for

# The longest any request may take while Redis does not answer: the retries' bound, one socket timeout, and room.
ANSWER_WITHIN_S = RECONNECT_TOTAL_S + SOCKET_TIMEOUT_S + 10


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()  # stopped and restarted here: nobody else's
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def deployment(own_redis: RedisServer, server_model: str, tmp_path: Path) -> Iterator[tuple[LiveServer, WorkerProcess]]:
    settings = settings_for(own_redis, tmp_path / "data", server_model)
    server = serve_runtime(ApiRuntime(settings))
    worker = WorkerProcess(settings, worker_id="w")
    worker.start()
    yield server, worker
    worker.stop()
    server.stop()


def _health_says_redis_is_away(client: httpx.Client) -> bool:
    health = client.get("/api/v1/health")
    return health.status_code == 503 and "Redis" in (health.json()["problem"] or "")


def test_a_redis_that_does_not_answer_is_named_by_health_and_hangs_no_request(
    own_redis: RedisServer, deployment: tuple[LiveServer, WorkerProcess]
) -> None:
    server, _ = deployment
    assert own_redis.process is not None
    with httpx.Client(base_url=server.url, headers=USER, timeout=ANSWER_WITHIN_S) as client:
        assert client.get("/api/v1/health").status_code == 200
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            health = client.get("/api/v1/health")
            print(f"\nhealth answered in {time.monotonic() - started:.1f} s with Redis stopped")
            assert health.status_code == 503
            assert health.json()["problem"].startswith("Redis at 127.0.0.1:") and "does not answer" in health.text
            started = time.monotonic()
            submitted = client.post("/api/v1/tasks", json={"prompt": "x", "steps": 2, "width": 32, "height": 32})
            print(f"submit answered {submitted.status_code} in {time.monotonic() - started:.1f} s with Redis stopped")
            assert submitted.status_code == 503 and "Redis" in submitted.json()["message"]
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert client.get("/api/v1/health").status_code == 200


def test_a_blocking_txt2img_waits_through_a_redis_restart_and_answers_its_result(
    own_redis: RedisServer, deployment: tuple[LiveServer, WorkerProcess]
) -> None:
    server, worker = deployment
    release = threading.Event()
    hold = Hold(denoiser(worker), when=lambda: True, until=lambda timeout: release.wait(timeout))
    answers: list[httpx.Response] = []
    blocking = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{server.url}/sdapi/v1/txt2img", headers=USER, timeout=300,
        json={"prompt": "a red apple", "steps": 2, "width": 32, "height": 32})))
    try:
        blocking.start()
        assert hold.reached.wait(HOLD_LIMIT_S)  # its task runs, inside a step
        own_redis.stop()  # a clean shutdown (the append-only file keeps everything)
        with httpx.Client(base_url=server.url, headers=USER, timeout=ANSWER_WITHIN_S) as client:
            # Away for longer than any command retries: every store call meanwhile fails.
            refused = client.get("/api/v1/tasks")
            assert refused.status_code == 503
            assert _health_says_redis_is_away(client)
        own_redis.start()
        release.set()
        blocking.join(300)
        assert answers and answers[0].status_code == 200, answers[0].text if answers else "no answer"
        images = answers[0].json()["images"]
        assert len(images) == 1 and base64.b64decode(images[0]).startswith(b"\x89PNG")
    finally:
        release.set()
        hold.remove()
        blocking.join(300)
