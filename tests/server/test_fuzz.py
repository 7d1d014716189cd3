"""Bad input at scale: schemathesis generates requests for every operation of /openapi.json (the
native and the A1111 routes, valid and invalid data) against a real server. No answer is a 5xx, and
every error body carries a message.

Bounded for the normal suite (a few examples per operation, derandomised, so the same requests every
run); more with ``PIXELFORGE_FUZZ_EXAMPLES=300 python -m pytest tests/server/test_fuzz.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server

EXAMPLES = int(os.environ.get("PIXELFORGE_FUZZ_EXAMPLES", "12"))
KEY = "fuzz-key-0123456789"


@pytest.fixture(scope="module")
def fuzz_server(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Every valid task it generates is tiny, so the blocking txt2img answers fast.
    live = start_server(Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"), model=server_model, api_keys={"fuzz": KEY}, preview_every=0,
        max_steps=2, max_side=64, max_batch_count=1, max_batch_size=1, max_active_per_identity=2,
        max_images_per_task=2,  # a "generate forever" task (batch_count 0) ends after two images
    ))
    yield live
    live.stop()


def _openapi() -> dict:
    """The server's /openapi.json, from an app around a runtime that is never started (the schema
    is needed when the tests are collected; schemathesis' lazy fixture loader fails on pytest 9)."""
    from pixelforge.server.app import create_app

    return create_app(SimpleNamespace(settings=Settings(api_keys={"fuzz": KEY}))).openapi()  # type: ignore[arg-type]


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_error_has_a_message(case: schemathesis.Case, fuzz_server: LiveServer) -> None:
    response = case.call(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
    if response.status_code >= 400:
        message = response.json().get("message")  # JSON, with a message
        assert isinstance(message, str) and message, (case.method, case.formatted_path, response.text)
