"""Restore: re-attach after a reload, show a result that finished meanwhile; only the owner can restore or stop."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import LONG, QUICK, fill_params, open_ui, progress_value, task_id, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.live_server import LiveServer


def test_reload_mid_generation_reattaches(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, LONG)
    page.locator("#generate").click()
    wait_denoising(page, min_step=3)
    running = task_id(page)
    before = progress_value(page)

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-task-id", running)
    expect(page.locator("#interrupt")).to_be_visible()
    expect(page.locator("#generate")).to_be_hidden()
    page.wait_for_function(
        "n => Number(document.querySelector('#progressbar').getAttribute('aria-valuenow')) > n", arg=before
    )
    wait_denoising(page)
    expect(page.locator("#stage-frame img[data-kind='preview']")).to_be_visible()
    page.locator("#interrupt").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")


def test_result_that_finished_meanwhile_and_restore_button(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    context = new_context()
    page = open_ui(context, live.url)
    fill_params(page, QUICK)
    page.locator("#generate").click()
    expect(page.locator("#interrupt")).to_be_visible()
    finished = task_id(page)
    page.goto("about:blank")  # the tab goes away while the task runs
    assert live.wait_state(finished, {TaskState.COMPLETED}) is TaskState.COMPLETED

    page.goto(live.url)
    expect(page.locator("body")).to_have_attribute("data-task-id", finished)
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    expect(page.locator(".gallery-item")).to_have_count(1)
    expect(page.locator("#stats")).to_be_visible()
    expect(page.locator("#generate")).to_be_visible()

    # A fresh tab re-attaches only to unfinished tasks; the finished one is in the recent images.
    page.close()
    page = open_ui(context, live.url)
    expect(page.locator(".gallery-item")).to_have_count(0)
    expect(page.get_by_role("button", name="Restore progress")).to_be_hidden()
    page.locator(f".recent-item[data-task-id='{finished}'] .recent-button").click()
    expect(page.locator("body")).to_have_attribute("data-task-id", finished)
    expect(page.locator(".gallery-item")).to_have_count(1)


def test_another_identity_cannot_restore_or_stop(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    owner = open_ui(new_context(), live.url)
    fill_params(owner, LONG)
    owner.locator("#generate").click()
    wait_denoising(owner)
    victim = task_id(owner)

    # The other identity knows the id (say, from a shared screen) and plants it in its own storage.
    stranger = open_ui(new_context(), live.url)
    stranger.evaluate("id => localStorage.setItem('pixelforge.activeTask', JSON.stringify({id, seq: 0}))", victim)
    stranger.reload()
    expect(stranger.locator("#alert")).to_contain_text("does not exist or is not yours")
    expect(stranger.locator("#generate")).to_be_visible()
    expect(stranger.locator("#interrupt")).to_be_hidden()
    expect(stranger.locator("#restore")).to_be_hidden()
    assert stranger.evaluate("localStorage.getItem('pixelforge.activeTask')") is None

    # The stranger has no unfinished task of its own: nothing to restore.
    stranger.reload()
    expect(stranger.locator("body")).to_have_attribute("data-ready", "true")
    expect(stranger.locator("#restore")).to_be_hidden()

    # Nor can it stop, skip, cancel or watch it through the API with its own cookie.
    base = f"{live.url}/api/v1/tasks/{victim}"
    assert stranger.request.post(f"{base}/interrupt", data={"keep_partial": False}).status == 404
    assert stranger.request.post(f"{base}/skip").status == 404
    assert stranger.request.delete(base).status == 404
    assert stranger.request.get(f"{base}/events").status == 404
    assert stranger.request.get(f"{base}/previews/latest").status == 404

    # The owner's task runs on, untouched, and its owner can stop it.
    before = progress_value(owner)
    owner.wait_for_function(
        "n => Number(document.querySelector('#progressbar').getAttribute('aria-valuenow')) > n", arg=before
    )
    assert live.runtime.service.get(victim).state is TaskState.RUNNING
    owner.keyboard.press("Escape")
    expect(owner.locator("body")).to_have_attribute("data-last-state", "interrupted")
