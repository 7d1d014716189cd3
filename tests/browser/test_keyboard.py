"""A1111's shortcuts: Ctrl+Enter generates (and restarts a running task), Alt+Enter skips, Esc interrupts."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import LONG, fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer


def test_ctrl_enter_generates_and_restarts_esc_interrupts(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    expect(page.locator("#shortcut-hints")).to_contain_text("Ctrl+Enter generate")
    expect(page.locator("#shortcut-hints")).to_contain_text("Alt+Enter skip")
    expect(page.locator("#shortcut-hints")).to_contain_text("Esc interrupt")
    fill_params(page, LONG)
    page.locator("#prompt").press("Control+Enter")
    wait_denoising(page)
    first = task_id(page)

    # Ctrl+Enter while running: the running task is interrupted and a new one starts.
    page.locator("#prompt").press("Control+Enter")
    page.wait_for_function("old => document.body.dataset.taskId !== old", arg=first)
    second = task_id(page)
    assert live.wait_state(first, {TaskState.INTERRUPTED}) is TaskState.INTERRUPTED
    wait_denoising(page)
    assert task_id(page) == second

    # Esc, from anywhere on the page, interrupts.
    page.locator("#negative_prompt").press("Escape")
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    assert live.runtime.service.get(second).state is TaskState.INTERRUPTED


def test_alt_enter_skips_the_current_job(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, {**LONG, "batch_count": "2"})
    page.locator("#generate").click()
    wait_denoising(page)
    expect(page.locator("#progress-job")).to_have_text("Job 1/2")
    page.keyboard.press("Alt+Enter")
    expect(page.locator("#progress-job")).to_have_text("Job 2/2")
    expect(page.locator("#skip")).to_be_enabled()  # Skip is available again for the new job
    expect(page.locator("#interrupt")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    task = live.runtime.service.get(task_id(page))
    assert task.stop_reason == "user"
    assert [image.job_no for image in task.images] == []  # the skipped job left no image
