"""No stale text (issue 26, item 7): a notice goes when what it said is over or fixed, follows a language switch,
and the form offers nothing the model cannot use — in en and zh-CN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from browserkit import LONG, QUICK, fill_params, open_ui, wait_denoising
from playwright.sync_api import BrowserContext, expect

from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def test_a_skipped_job_notice_goes_when_the_task_is_interrupted_on_a_phone(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(**PHONE), live.url)
    fill_params(page, {**LONG, "steps": "60", "batch_count": "2"})
    page.locator("#generate").click()
    wait_denoising(page)
    page.locator("#skip").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Job 1 of 2 skipped.")
    wait_denoising(page)  # the second job runs
    page.locator("#interrupt").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(alert).to_be_hidden()
    expect(page.locator(".gallery-item.skipped")).to_have_count(1)  # the job stays marked where it belongs


def test_a_validation_message_follows_the_language_and_goes_once_the_fields_are_fixed(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, {**QUICK, "cfg_scale": "-1", "steps": "0"})
    page.locator("#generate").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Please check: Steps: must be at least 1; CFG scale: must be at least 0")
    page.get_by_label("Language").select_option("zh-CN")
    expect(alert).to_have_text("请检查：步数：不能小于 1；CFG 系数：不能小于 0")
    page.locator("#steps").fill("20")
    expect(alert).to_have_text("请检查：CFG 系数：不能小于 0")  # only what is still wrong
    page.locator("#cfg_scale").fill("4")
    expect(alert).to_be_hidden()
    page.get_by_label("语言").select_option("en")
    expect(alert).to_be_hidden()  # a cleared notice does not come back


def test_placeholder_pitch_and_mask_note_say_what_is_true(
    new_context: Callable[..., BrowserContext], live: LiveServer, tmp_path: Path
) -> None:
    page = open_ui(new_context(), live.url)
    expect(page.locator("#prompt")).to_have_attribute("placeholder", "a red apple")  # one the sprite model draws
    if live.runtime.settings.model == "sprite":  # one pixel per art pixel: no pitch to give
        expect(page.locator("#pixel_pitch")).to_be_hidden()
        expect(page.locator("#pixel-pitch-note")).to_be_hidden()
    (tmp_path / "sprite.png").write_bytes(png_bytes(sprite()))
    page.locator("#init_image").set_input_files(str(tmp_path / "sprite.png"))
    note = page.locator("#mask-note")
    expect(note).to_contain_text("no cell marked yet: the whole image is redrawn")
    page.locator("#mask-canvas").focus()
    page.keyboard.press("Enter")
    expect(note).to_contain_text("1 of 1024 cells marked: those are redrawn, the rest is kept")
    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator("#prompt")).to_have_attribute("placeholder", "一个红苹果")
    expect(note).to_contain_text("已标记 1/1024 格：只重绘这些格，其余保留")
    page.get_by_role("button", name="清除").click()
    expect(note).to_contain_text("尚未标记任何格：整张图重绘")
