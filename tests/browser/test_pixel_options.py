"""The pixel-art options of the form (sent as the task's `pixel`) and the stage's downloads in the gallery."""

from __future__ import annotations

import re
from collections.abc import Callable

from browserkit import QUICK, Shots, fill_params, open_ui, task_id
from playwright.sync_api import BrowserContext, Page, expect

from pixelforge.testing.live_server import LiveServer


def open_pixel_group(page: Page) -> None:
    """From the keyboard: the group's summary takes the focus and Enter opens it."""
    summary = page.locator("#pixel-group > summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#pixel-group")).to_have_attribute("open", "")


def test_pixel_options_reach_the_task_and_the_gallery_offers_palette_downloads(
    new_context: Callable[..., BrowserContext], live: LiveServer, shots: Shots
) -> None:
    page = open_ui(new_context(), live.url)
    open_pixel_group(page)
    palette = page.get_by_label("Palette", exact=True)
    expect(palette).to_be_disabled()  # the options apply only when the mode is On

    # What each mode sends: nothing, {"enabled": false}, or the options.
    mode = page.get_by_label("Mode", exact=True)
    assert page.evaluate("window.pixelforge.form.params().pixel") is None
    mode.select_option("off")
    assert page.evaluate("window.pixelforge.form.params().pixel") == {"enabled": False}
    mode.select_option("on")
    expect(palette).to_be_enabled()
    palette.select_option("pico-8")
    expect(page.get_by_label("Colours", exact=True)).to_be_disabled()  # a fixed palette has its own colours
    # The sprite model draws one pixel per art pixel: it has no pitch to detect or give (issue 26, item 7).
    expect(page.get_by_label("Pitch", exact=True)).to_be_hidden()
    expect(page.get_by_label("Remove the background", exact=True)).to_be_checked()
    enclosed = page.get_by_label("Also inside the sprite (a ring's hole)", exact=True)
    expect(enclosed).not_to_be_checked()  # enclosed background-coloured regions are usually art
    assert page.evaluate("window.pixelforge.form.params().pixel.remove_enclosed") is False
    enclosed.check()
    page.get_by_label("Dither", exact=True).select_option("ordered")

    # Remembered like the other settings.
    page.reload()
    expect(page.locator("#pixel-group")).to_have_attribute("open", "")
    expect(page.get_by_label("Mode", exact=True)).to_have_value("on")
    expect(page.get_by_label("Palette", exact=True)).to_have_value("pico-8")
    expect(page.get_by_label("Dither", exact=True)).to_have_value("ordered")
    expect(page.get_by_label("Also inside the sprite (a ring's hole)", exact=True)).to_be_checked()

    fill_params(page, {**QUICK, "batch_count": "2"})
    page.locator("#generate").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")

    task = page.request.get(f"{live.url}/api/v1/tasks/{task_id(page)}").json()
    pixel = task["params"]["pixel"]
    assert pixel["enabled"] is True and pixel["palette"] == "pico-8"
    assert pixel["pitch"] is None and pixel["dither"] == "ordered" and pixel["remove_background"] is True
    assert pixel["remove_enclosed"] is True

    # Every image offers its palette (.gpl, .hex) and the model's raw image; the batch its sprite sheet.
    items = page.locator(".gallery-item")
    expect(items).to_have_count(2)
    first = items.first
    gpl = first.get_by_role("link", name="Palette .gpl")
    hex_link = first.get_by_role("link", name="Palette .hex")
    raw = first.get_by_role("link", name="Raw PNG")
    for link, kind in ((gpl, "gpl"), (hex_link, "hex"), (raw, "raw")):
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", re.compile(rf"/images/0/{kind}$"))
        assert link.get_attribute("download")
    assert page.request.get(f"{live.url}/{gpl.get_attribute('href')}").text().startswith("GIMP Palette")
    hex_text = page.request.get(f"{live.url}/{hex_link.get_attribute('href')}").text()
    assert re.fullmatch(r"([0-9a-f]{6}\n)+", hex_text)
    assert page.request.get(f"{live.url}/{raw.get_attribute('href')}").headers["content-type"] == "image/png"
    sheet = page.get_by_role("link", name="Sprite sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_have_attribute("href", re.compile(r"/sheet\.png$"))
    assert page.request.get(f"{live.url}/{sheet.get_attribute('href')}").headers["content-type"] == "image/png"
    shots.take(page, "pixel-art", full_page=True)

    # Chinese strings too.
    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator("#pixel-group > summary")).to_contain_text("像素画")
    expect(first.get_by_role("link", name="调色板 .gpl")).to_be_visible()
    expect(page.get_by_role("link", name="精灵图集")).to_be_visible()


def test_a_bad_pixel_option_shows_the_servers_message_and_starts_nothing(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    open_pixel_group(page)
    page.get_by_label("Mode", exact=True).select_option("on")
    page.get_by_label("Palette", exact=True).select_option("")
    page.get_by_label("Colours", exact=True).fill("300")
    fill_params(page, QUICK)
    page.locator("#generate").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    # The form's own label, the message in the UI's language, the field marked.
    expect(alert).to_have_text("Please check: Colours: must be at most 256")
    expect(page.get_by_label("Colours", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("#interrupt")).to_be_hidden()
    assert page.locator("body").get_attribute("data-task-id") is None
    assert page.request.get(f"{live.url}/api/v1/tasks").json()["total"] == 0
