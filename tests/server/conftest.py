"""Fixtures of the server tests: two session-wide real servers (see serverkit) and their clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from serverkit import (
    ADMIN_KEYS,
    CORS_ORIGIN,
    KEYS,
    MAX_ACTIVE,
    MAX_QUEUED,
    bearer,
)

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server


@pytest.fixture(scope="session")
def keyed(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("keyed"),
        model=server_model,
        preview_every=1,
        api_keys=KEYS,
        admin_keys=ADMIN_KEYS,
        max_active_per_identity=MAX_ACTIVE,
        max_queued_total=MAX_QUEUED,
        max_body_bytes=64_000,
    )
    live = start_server(settings)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def open_server(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("open"), model=server_model, cors_origins=[CORS_ORIGIN])
    live = start_server(settings)
    yield live
    live.stop()


@pytest.fixture
def alice(keyed: LiveServer) -> Iterator[httpx.Client]:
    with keyed.client(headers=bearer(KEYS["alice"])) as client:
        yield client


@pytest.fixture
def bob(keyed: LiveServer) -> Iterator[httpx.Client]:
    with keyed.client(headers=bearer(KEYS["bob"])) as client:
        yield client


@pytest.fixture
def admin(keyed: LiveServer) -> Iterator[httpx.Client]:
    with keyed.client(headers=bearer(ADMIN_KEYS["root"])) as client:
        yield client


@pytest.fixture
def paused(admin: httpx.Client) -> Iterator[None]:
    """The keyed server's queue paused for the test; whatever the test left queued is cancelled."""
    assert admin.post("/api/v1/queue/pause").json()["paused"] is True
    try:
        yield
    finally:
        for task in admin.get("/api/v1/tasks", params={"scope": "all", "state": "queued", "limit": 200}).json()[
            "tasks"
        ]:
            admin.delete(f"/api/v1/tasks/{task['id']}")
        admin.post("/api/v1/queue/resume")


