"""A full disk on submit: 507 with a message, and nothing already stored is damaged.

The disk fills up for the task database the way a full disk does to SQLite (SQLITE_FULL, "database
or disk is full"), by capping the database's page count: deterministic, and no tmpfs needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from serverkit import QUICK, submit, wait_finished

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server


@pytest.fixture(scope="module")
def server(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=tmp_path_factory.mktemp("full"), model=server_model))
    yield live
    live.stop()


@contextmanager
def disk_full(live: LiveServer) -> Iterator[None]:
    store = live.runtime.store
    with store._lock:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        with store._lock:
            store._conn.execute("PRAGMA max_page_count = 1073741823")


def test_submit_on_a_full_disk_is_507_and_damages_nothing(server: LiveServer) -> None:
    with server.client(headers={"X-Client-Id": "disk-full-client"}) as client:
        before = wait_finished(client, submit(client)["id"])
        with disk_full(server):
            big = {**QUICK, "prompt": "x" * 3000, "negative_prompt": "y" * 3000}
            for path, body in (("/api/v1/tasks", big), ("/sdapi/v1/txt2img", big)):
                response = client.post(path, json=body)
                assert response.status_code == 507, response.text
                assert "disk is full" in response.json()["message"]
        store = server.runtime.store
        with store._lock:
            assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert client.get(f"/api/v1/tasks/{before['id']}").json() == before
        assert client.get(before["images"][0]["url"]).status_code == 200
        assert client.get("/api/v1/tasks").json()["total"] == 1
        assert wait_finished(client, submit(client)["id"])["state"] == "completed"
