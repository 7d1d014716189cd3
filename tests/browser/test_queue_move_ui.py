"""Queue moves in the web UI (issue 29), in chromium: Up, Down and Run next per queued item, reached with the
keyboard, the list redrawn in the queue's new order; in English and Chinese."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import open_ui
from playwright.sync_api import BrowserContext, expect

from pixelforge.testing.live_server import LiveServer


def test_my_queue_moves_up_down_and_run_next_with_the_keyboard(new_context: Callable[..., BrowserContext],
                                                                live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    live.runtime.service.store.set_paused(True)
    try:
        for prompt in ("first in line", "second in line", "third in line"):
            assert page.request.post(f"{live.url}/api/v1/tasks", data={"prompt": prompt, "steps": 2}).status == 201
        page.reload()
        items = page.locator("#queue-list .queue-item")
        expect(items).to_have_count(3)
        expect(items.first.locator(".queue-move-up")).to_be_disabled()  # already first
        expect(items.last.locator(".queue-move-down")).to_be_disabled()  # already last
        items.last.locator(".queue-move-front").focus()
        page.keyboard.press("Enter")
        expect(items.first).to_contain_text("1. third in line")
        expect(items.nth(1)).to_contain_text("2. first in line")
        # the keyboard stays on the moved task: Run next has nothing more to do, so its Cancel
        expect(items.first.locator(".queue-cancel")).to_be_focused()
        items.first.locator(".queue-move-down").focus()
        page.keyboard.press("Enter")
        expect(items.nth(1)).to_contain_text("2. third in line")
        expect(items.nth(1).locator(".queue-move-down")).to_be_focused()
        page.keyboard.press("Enter")
        expect(items.last).to_contain_text("3. third in line")
        items.nth(1).locator(".queue-move-up").click()
        expect(items.first).to_contain_text("1. second in line")
        waiting = [live.runtime.service.get(task_id) for task_id in live.runtime.service.store.queued_ids()]
        assert [t.params.prompt for t in waiting] == ["second in line", "first in line", "third in line"]
    finally:
        page.locator("#queue-cancel-all").click()
        live.runtime.service.store.set_paused(False)


def test_the_move_buttons_speak_chinese(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(locale="zh-CN"), live.url)
    live.runtime.service.store.set_paused(True)
    try:
        for prompt in ("甲", "乙"):
            assert page.request.post(f"{live.url}/api/v1/tasks", data={"prompt": prompt, "steps": 2}).status == 201
        page.reload()
        item = page.locator("#queue-list .queue-item").last
        expect(item.locator(".queue-move-front")).to_have_text("下一个运行")
        expect(item.locator(".queue-move-up")).to_have_attribute("aria-label", "在你的队列中上移 乙")
    finally:
        page.locator("#queue-cancel-all").click()
        live.runtime.service.store.set_paused(False)
