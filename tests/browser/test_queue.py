"""Queue position: a task waiting behind another identity's shows "In queue: X/Y" and can be cancelled."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import LONG, Shots, fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer


def test_queue_position_with_two_tasks(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    first = open_ui(new_context(), live.url)
    fill_params(first, LONG)
    first.locator("#generate").click()
    wait_denoising(first)

    # The second identity has one task queued already (through the API), then generates in the page.
    second = open_ui(new_context(), live.url)
    earlier = second.request.post(f"{live.url}/api/v1/tasks", data={"prompt": "queued first", "steps": 150})
    assert earlier.status == 201
    fill_params(second, LONG)
    second.locator("#generate").click()
    expect(second.locator("#progress-queue")).to_have_text("In queue: 2/2")
    expect(second).to_have_title("[In queue: 2/2] pixelforge")
    expect(second.locator("#interrupt")).to_be_visible()
    expect(second.locator("#skip")).to_be_disabled()
    expect(second.locator("#stop-keep")).to_be_hidden()
    expect(second.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    shots.take(second, "queued")

    # The queue moves: the first task ends, the API task starts, the page's task is now first in line.
    first.locator("#interrupt").click()
    expect(first.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(second.locator("#progress-queue")).to_have_text("In queue: 1/1")

    # Interrupting a queued task cancels it.
    second.locator("#interrupt").click()
    expect(second.locator("body")).to_have_attribute("data-last-state", "cancelled")
    expect(second.locator("#generate")).to_be_visible()
    assert live.runtime.service.get(task_id(second)).state is TaskState.CANCELLED
