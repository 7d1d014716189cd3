"""Languages (English, Simplified Chinese) and accessibility: labels, keyboard focus, the progressbar, 360 px."""

from __future__ import annotations

import re
from collections.abc import Callable

from browserkit import LONG, Shots, fill_params, open_ui, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.testing.live_server import LiveServer


def test_language_follows_the_browser_and_can_be_switched(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    page = open_ui(new_context(), live.url)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#generate")).to_have_text("Generate")

    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#generate")).to_have_text("生成")
    expect(page.get_by_label("步数")).to_be_visible()
    expect(page.get_by_role("button", name="随机种子")).to_be_visible()

    # Dynamic text follows too, while a task runs.
    fill_params(page, LONG)
    page.locator("#generate").click()
    wait_denoising(page)
    expect(page.locator("#interrupt")).to_have_text("中断")
    expect(page.locator("#progress-step")).to_have_text(re.compile(r"^第 \d+/150 步$"))
    expect(page.locator("#progress-job")).to_have_text("批次 1/16")
    shots.take(page, "running-zh-CN")
    page.get_by_label("语言").select_option("en")
    expect(page.locator("#progress-step")).to_have_text(re.compile(r"^Step \d+/150$"))
    page.get_by_label("Language").select_option("zh-CN")
    page.keyboard.press("Escape")
    expect(page.locator("#stats dd[data-stat='state']")).to_have_text("已中断")

    # The choice is remembered.
    page.reload()
    expect(page.locator("#generate")).to_have_text("生成")

    # A Chinese browser gets Chinese by itself.
    zh = open_ui(new_context(locale="zh-CN"), live.url)
    expect(zh.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(zh.locator("#generate")).to_have_text("生成")


def test_accessible_and_usable_at_360px(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    page = open_ui(new_context(viewport={"width": 360, "height": 780}), live.url)

    # Every form control has a label; the steps field's label starts with "Steps".
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea, button")]
             .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()))
             .map((el) => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    expect(page.get_by_label(re.compile(r"^Steps"))).to_have_attribute("id", "steps")
    for label in (
        "Prompt",
        "Negative prompt",
        "Model",
        "Width",
        "Height",
        "CFG scale",
        "Seed",
        "Batch count",
        "Batch size",
        "Keep the screen on while generating",
    ):
        expect(page.get_by_label(label, exact=True)).to_have_count(1)

    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shots.take(page, "mobile-360", full_page=True)

    # Settings are remembered across reloads.
    fill_params(page, {**LONG, "cfg_scale": "3.5"})
    page.reload()
    expect(page.locator("#steps")).to_have_value("150")
    expect(page.locator("#cfg_scale")).to_have_value("3.5")
    expect(page.locator("#prompt")).to_have_value("a slow dragon")

    # Keyboard only: Tab reaches Generate, its focus is visible, Enter starts; the focus moves to Interrupt.
    page.locator("#wake_lock").focus()
    generate = page.locator("#generate")
    for _ in range(10):
        page.keyboard.press("Tab")
        if generate.evaluate("el => el === document.activeElement"):
            break
    expect(generate).to_be_focused()
    outline = generate.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.startswith("solid") and not outline.endswith(" 0px")
    page.keyboard.press("Enter")
    wait_denoising(page)
    expect(page.locator("#interrupt")).to_be_focused()
    bar = page.get_by_role("progressbar", name="Progress")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^\d+$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shots.take(page, "mobile-360-running")
    page.keyboard.press("Enter")  # Interrupt, from the keyboard
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(generate).to_be_focused()
