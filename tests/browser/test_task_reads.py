"""The page reads the caller's task list once per change: after a task finishes, ONE GET /api/v1/tasks feeds the
history, the recent images, the queue and "Restore progress" (they were four reads, two of them identical)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

from browserkit import QUICK, fill_params, open_ui, task_id
from playwright.sync_api import BrowserContext, Request, expect

from pixelforge.testing.live_server import LiveServer


def test_one_read_of_the_tasks_after_a_finish(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    reads: list[str] = []

    def note(request: Request) -> None:
        if request.method == "GET" and urlparse(request.url).path == "/api/v1/tasks":
            reads.append(request.url)

    page.on("request", note)
    fill_params(page, QUICK)
    # The task waits in a paused queue until the page's read on attaching it is done and counted.
    live.runtime.service.store.set_paused(True)
    try:
        page.locator("#generate").click()
        expect(page.locator("#progress-queue")).to_be_visible()  # attached, waiting
        expect(page.locator("#queue-list .queue-item")).to_have_count(1)  # the read on attaching is done
        before_finish = len(reads)
    finally:
        live.runtime.service.store.set_paused(False)

    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    # The one read after the end: the history, the recent images and the queue all show the finished task.
    task = page.locator(f"#history-list .history-item[data-task-id='{task_id(page)}']")
    expect(task).to_have_attribute("data-state", "completed")
    expect(page.locator(f".recent-item[data-task-id='{task_id(page)}']")).to_have_count(1)
    expect(page.locator("#queue-list .queue-item")).to_have_count(0)
    expect(page.locator("#restore")).to_be_hidden()
    assert len(reads) - before_finish == 1, reads[before_finish:]
