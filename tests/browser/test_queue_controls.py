"""The queue vocabulary in the web UI (issue 29), in chromium: generate forever and stop after this image, the
queue list with Cancel per item and "Cancel my queue", Retry in the history, the notification toggle; reached with
the keyboard, in English and Chinese."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer


def test_generate_forever_then_stop_after_this_image(new_context: Callable[..., BrowserContext],
                                                     live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, {"prompt": "a slime", "steps": "6", "width": "32", "height": "32"})
    page.locator("#forever").check()
    page.locator("#generate").click()
    expect(page.locator("#gallery li")).not_to_have_count(0)  # image after image
    wait_denoising(page, min_step=1)
    expect(page.locator("#progress-job")).to_contain_text("Image ")  # image k, no total
    page.locator("#stop-after").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#stopping-after")).to_be_visible()
    expect(page.locator("#interrupt")).to_be_visible()  # a plain interrupt would still stop it at once
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    task = live.runtime.service.get(task_id(page))
    assert task.params.batch_count == 0 and task.stop_reason == "user"
    assert task.images and not any(image.partial for image in task.images)  # the image being made was kept


def test_my_queue_cancel_one_cancel_all_and_retry(new_context: Callable[..., BrowserContext],
                                                  live: LiveServer) -> None:
    context = new_context()
    page = open_ui(context, live.url)
    live.runtime.service.store.set_paused(True)
    try:
        for prompt in ("first in line", "second in line", "third in line"):
            assert page.request.post(f"{live.url}/api/v1/tasks", data={"prompt": prompt, "steps": 2}).status == 201
        page.reload()
        items = page.locator("#queue-list .queue-item")
        expect(items).to_have_count(3)
        expect(items.first).to_contain_text("1. first in line")
        items.first.locator(".queue-cancel").focus()
        page.keyboard.press("Enter")
        expect(items).to_have_count(2)
        expect(items.first).to_contain_text("second in line")
        page.locator("#queue-cancel-all").click()
        expect(items).to_have_count(0)
        expect(page.locator("#queue-empty")).to_be_visible()
        cancelled = page.locator("#history-list .history-item[data-state=cancelled]")
        expect(cancelled).to_have_count(3)
        cancelled.first.locator(".history-retry").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#progress-queue")).to_have_text("In queue: 1/1")  # the retry, attached and waiting
        retried = live.runtime.service.get(task_id(page))
        assert retried.state is TaskState.QUEUED and retried.origin.retried_from is not None
        expect(items).to_have_count(1)
    finally:
        live.runtime.service.store.set_paused(False)


def test_the_queue_controls_speak_chinese_and_the_notice_toggle_asks_once(
        new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(locale="zh-CN", permissions=["notifications"]), live.url)
    expect(page.locator("#queue-title")).to_have_text("我的队列")
    expect(page.locator("label[for=forever]")).to_have_text("无限生成")
    expect(page.locator("#stop-after")).to_have_text("本张完成后停止")
    page.locator("#notify").focus()
    page.keyboard.press("Space")
    expect(page.locator("#notify")).to_be_checked()  # granted: it stays ticked
    page.reload()
    expect(page.locator("#notify")).to_be_checked()  # and is remembered
