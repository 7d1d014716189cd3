"""The web UI tells a refused request by the error's code (ERROR_CODES of the generated protocol.js), in the UI's
language, not by the server's English text."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from browserkit import QUICK, fill_params, open_ui
from playwright.sync_api import BrowserContext, expect

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server


@pytest.fixture(scope="module")
def one_each(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without a worker (tasks stay queued) that takes one active task per identity."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("one-each"), model=server_model, max_active_per_identity=1)
    server = start_server(settings, workers=0)
    yield server
    server.stop()


def test_a_full_queue_is_told_in_the_ui_language_by_its_code(
    new_context: Callable[..., BrowserContext], one_each: LiveServer
) -> None:
    page = open_ui(new_context(locale="zh-CN"), one_each.url)
    first = page.request.post(f"{one_each.url}/api/v1/tasks", data={"prompt": "first in line", "steps": 2})
    assert first.status == 201, first.text()
    fill_params(page, QUICK)
    page.locator("#generate").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("你排队或运行中的任务已达上限")  # errorCode_owner_full in zh-CN
    assert "queued or running" not in (alert.text_content() or "")  # not the server's English text
