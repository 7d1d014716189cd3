"""Generate and watch: the bar, ETA, tab title, live preview, result, statistics, history; the button states."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from browserkit import LONG, QUICK, QUICK_SIDE, Shots, fill_params, open_ui, progress_value, task_id, wait_denoising
from playwright.sync_api import BrowserContext, Page, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold, denoiser
from pixelforge.testing.live_server import LiveServer


def check_running_page(page: Page, shots: Shots) -> None:
    """Running: the bar moves, with step, ETA and the percentage in the tab title; a preview shows."""
    expect(page.locator("#interrupt")).to_be_visible()
    expect(page.locator("#generate")).to_be_hidden()
    page.wait_for_function("document.querySelector('#progressbar').getAttribute('aria-valuenow') > 0")
    expect(page.locator("#progress-step")).to_have_text(re.compile(r"^Step \d+/40$"))
    expect(page.locator("#progress-eta")).to_have_text(re.compile(r"^ETA (\d+s|\d\d:\d\d|\d\d:\d\d:\d\d)$"))
    expect(page).to_have_title(re.compile(r"^\[\d{1,3}%\] pixelforge$"))
    expect(page.locator("#stage-frame img[data-kind='preview']")).to_be_visible()
    assert page.locator("#stage-frame img").evaluate("img => img.naturalWidth") > 0
    assert 0 < progress_value(page) <= 100
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuetext", re.compile(r"\d+%"))
    assert page.evaluate("window.__wakeLog").count("request:screen") == 1
    shots.take(page, "running")


def test_generate_shows_progress_preview_and_result(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    page = open_ui(new_context(), live.url)
    shots.take(page, "idle")
    fill_params(page, QUICK)
    # The worker waits inside the denoiser once the task has a preview, until the running page is checked.
    service, checked = live.runtime.service, threading.Event()

    def has_preview() -> bool:
        return any(service.store.get_preview(t.id) for t in service.list(states=[TaskState.RUNNING], limit=1))

    hold = Hold(denoiser(live.runtime), when=has_preview, until=checked.wait)
    try:
        page.locator("#generate").click()
        assert hold.reached.wait(60)
        check_running_page(page, shots)
    finally:
        checked.set()
        hold.remove()

    bar = page.get_by_role("progressbar")
    # Completed: 100 %, the image at 1x and scaled with crisp pixels, downloads, statistics, history.
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page).to_have_title("pixelforge")
    item = page.locator(".gallery-item")
    expect(item).to_have_count(1)
    one_x = item.locator("img.one-x")
    expect(one_x).to_have_js_property("naturalWidth", QUICK_SIDE)
    assert one_x.evaluate("img => img.clientWidth") == QUICK_SIDE
    scaled = item.locator("img.scaled")
    assert scaled.evaluate("img => img.clientWidth") == QUICK_SIDE * 4
    assert scaled.evaluate("img => getComputedStyle(img).imageRendering") == "pixelated"
    assert item.get_by_role("link", name="PNG 1×").get_attribute("download")
    href = item.get_by_role("link", name="PNG 4×").get_attribute("href")
    assert href and href.endswith("/images/0.png?scale=4")
    assert page.request.get(f"{live.url}/{href}").status == 200
    expect(page.locator("#stage-frame img[data-kind='result']")).to_be_visible()
    expect(page.locator("#stats dd[data-stat='total']")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#stats dd[data-stat='phases']")).to_contain_text("denoise")
    expect(page.locator("#stats dd[data-stat='ram']")).to_have_text(re.compile(r"MiB|GiB"))
    expect(page.locator("#stats dd[data-stat='vram']")).to_have_count(0)  # CPU: no VRAM line
    assert page.evaluate("window.__wakeLog") == ["request:screen", "release"]
    history = page.locator(".history-item")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("a knight with a sword")
    expect(history.first).to_contain_text(f"{QUICK_SIDE}×{QUICK_SIDE}")
    shots.take(page, "completed", full_page=True)

    # Reuse from the history fills the form; the seed reuse button brings back the task's seed.
    page.locator("#prompt").fill("something else")
    page.locator("#steps").fill("7")
    history.first.locator(".history-reuse").click()
    expect(page.locator("#prompt")).to_have_value("a knight with a sword")
    expect(page.locator("#steps")).to_have_value("40")
    page.locator("#seed-random").click()
    expect(page.locator("#seed")).to_have_value("-1")
    page.locator("#seed-reuse").click()
    seed = live.runtime.service.get(task_id(page)).params.seed
    expect(page.locator("#seed")).to_have_value(str(seed))


def test_button_states_follow_the_task(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, LONG)
    expect(page.locator("#interrupt")).to_be_hidden()
    expect(page.locator("#skip")).to_be_hidden()
    page.locator("#generate").click()
    wait_denoising(page)
    for visible in ("#interrupt", "#skip", "#stop-keep"):
        expect(page.locator(visible)).to_be_visible()
    for hidden in ("#generate", "#interrupting", "#restore"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#skip")).to_be_enabled()

    # Click Interrupt and look at the buttons in the same turn of the event loop: the server cannot
    # have answered yet, so this is the "Interrupting…" state, whatever the machine's speed.
    seen = page.evaluate(
        """() => {
          document.querySelector("#interrupt").click();
          const shown = (id) => !document.querySelector(id).hidden;
          return {interrupting: shown("#interrupting"), interrupt: shown("#interrupt"), skip: shown("#skip"),
                  generate: shown("#generate"),
                  disabled: document.querySelector("#interrupting").getAttribute("aria-disabled")};
        }"""
    )
    assert seen == {"interrupting": True, "interrupt": False, "skip": True, "generate": False, "disabled": "true"}
    shots.take(page, "interrupting")
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("#interrupting")).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    assert live.runtime.service.get(task_id(page)).state is TaskState.INTERRUPTED
    expect(page.locator("#stats dd[data-stat='state']")).to_have_text("interrupted")
    expect(page.locator(".gallery-item")).to_have_count(0)  # the unfinished image was discarded

    # "Stop and keep" keeps the unfinished image, decoded from the current estimate.
    page.locator("#generate").click()
    wait_denoising(page, min_step=3)
    page.locator("#stop-keep").click()
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(page.locator(".gallery-item")).to_have_count(1)
    expect(page.locator(".gallery-item .badge")).to_have_text("partial")
