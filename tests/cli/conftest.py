"""A real server for the CLI's thin-client tests (Runtime + uvicorn on a free loopback port)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server


@pytest.fixture(scope="package")
def served(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Settings(data_dir=tmp_path_factory.mktemp("cli-server"), model=server_model))
    yield server
    server.stop()
