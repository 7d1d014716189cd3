"""Honest feedback (issue 14, items 2-4): the bar's fill matches its label, a stop shows on the stage, a skipped
job is marked in the result with the seeds it would have used, and "Restore progress" is offered only when there
is an unfinished task to re-attach to."""

from __future__ import annotations

import re
from collections.abc import Callable

from browserkit import LONG, QUICK, fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.testing.live_server import LiveServer

# Records, at every change of the bar's value, the value and the fill's width as drawn (layout forced).
RECORD_BAR = """() => {
  window.__bar = [];
  const bar = document.querySelector("#progressbar");
  const fill = document.querySelector("#progress-fill");
  new MutationObserver(() => {
    const drawn = (fill.getBoundingClientRect().width / bar.clientWidth) * 100;
    window.__bar.push([Number(bar.getAttribute("aria-valuenow")), drawn,
                       document.querySelector("#progress-percent").textContent]);
  }).observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
}"""


def test_the_fill_matches_the_label_at_every_update(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    page.evaluate(RECORD_BAR)
    fill_params(page, QUICK)
    page.locator("#generate").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    samples = page.evaluate("window.__bar")
    assert len(samples) >= 5 and samples[-1][0] == 100
    for value, drawn, label in samples:
        assert label == f"{value}%"
        assert abs(drawn - value) <= 1, samples


def test_a_stop_shows_on_the_stage(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, LONG)
    page.locator("#generate").click()
    wait_denoising(page)
    expect(page.locator("#stage-frame img[data-kind='preview']")).to_be_visible()
    expect(page.locator("#stage-caption")).to_have_text("Live preview")
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    # The last preview stays, dimmed, and says what happened.
    expect(page.locator("#stage-caption")).to_have_text("Last preview · interrupted")
    expect(page.locator("#stage-state")).to_have_text("interrupted")
    expect(page.locator("#stage-frame")).to_have_attribute("data-ended", "interrupted")

    # A completed task carries no such mark.
    fill_params(page, {**QUICK, "batch_count": "1"})
    page.locator("#generate").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    expect(page.locator("#stage-state")).to_be_hidden()
    expect(page.locator("#stage-caption")).to_have_text(re.compile(r"^Image 0 · seed \d+$"))


def test_a_skipped_job_is_marked_and_seeds_follow_the_job(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, {**LONG, "steps": "60", "batch_count": "3", "seed": "100"})
    page.locator("#generate").click()
    wait_denoising(page)
    page.locator("#skip").click()
    expect(page.get_by_role("alert")).to_have_text("Job 1 of 3 skipped.")
    skipped = page.locator(".gallery-item.skipped")
    expect(skipped).to_have_text("Job 1 skipped (seed 100 unused)")

    # Job 2 finishes: its image is the task's image 0 and carries seed + 1 (seed + job × batch size + k).
    expect(page.locator(".gallery-item:not(.skipped)")).to_have_count(1)
    expect(page.locator(".gallery-item:not(.skipped) figcaption")).to_have_text("#0 · 32×32 · seed 101")
    expect(page.locator("#progress-job")).to_have_text("Job 3/3")
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(page.locator("#stats dd[data-stat='skipped']")).to_have_text("1")
    expect(skipped).to_have_count(1)  # the interrupted job is not a skipped one
    task = live.runtime.service.get(task_id(page))
    assert [(image.index, image.job_no, image.seed) for image in task.images] == [(0, 1, 101)]
    # The stage shows the last finished image, marked: the task did not complete.
    expect(page.locator("#stage-caption")).to_have_text("Image 0 · seed 101 · interrupted")


def test_restore_only_when_there_is_a_task_to_reattach(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    context = new_context()
    page = open_ui(context, live.url)
    restore = page.locator("#restore")
    expect(restore).to_be_hidden()  # a new profile: nothing to restore
    fill_params(page, QUICK)
    page.locator("#generate").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    expect(restore).to_be_hidden()  # finished: nothing to re-attach (its result is in the history)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator(".recent-item")).to_have_count(1)
    expect(restore).to_be_hidden()

    # A task of ours runs without this tab (another tab, a script): Restore re-attaches to it.
    created = page.request.post(f"{live.url}/api/v1/tasks", data={"prompt": "elsewhere", "steps": 150,
                                                                   "batch_count": 16})
    assert created.status == 201
    page.reload()
    expect(restore).to_be_visible()
    restore.click()
    expect(page.locator("body")).to_have_attribute("data-task-id", created.json()["id"])
    expect(page.locator("#interrupt")).to_be_visible()
    expect(restore).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", re.compile("interrupted|cancelled"))
    expect(restore).to_be_hidden()
