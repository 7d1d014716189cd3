"""Phone layout, languages, validation messages, recent images and offline API docs (issue 14, items 5-9)."""

from __future__ import annotations

import re
from collections.abc import Callable

from browserkit import LONG, QUICK, fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, Page, Route, expect

from pixelforge.testing.live_server import LiveServer

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}

# Every piece of text a person can see or hear (text nodes, labels, placeholders, alt and title texts).
VISIBLE_TEXT = """() => {
  const out = [];
  const shown = (el) => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("script, style, option") || !shown(el)) continue;
    out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title], img[alt]")) {
    if (!shown(el)) continue;
    for (const name of ["aria-label", "placeholder", "title", "alt"]) {
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
  }
  for (const select of document.querySelectorAll("select")) {
    if (shown(select) && select.selectedOptions[0]) out.push(select.selectedOptions[0].textContent.trim());
  }
  return out;
}"""
# Words that stay as they are in every language: names, units, file kinds, keys, the user's own prompt.
KEEP = re.compile(
    r"pixelforge|Qwen-Image-2512|LoRA|RGBA|CPU|GPU|CFG|PNG|PICO-8|DawnBringer|Endesga|Game Boy|SLSO8|Bayer|"
    r"\.gpl|\.hex|Ctrl|Alt|Option|Enter|Esc|English|MiB|GiB|ms|cpu|a knight with a sword|a slow dragon"
)


def untranslated(page: Page) -> list[str]:
    return [text for text in page.evaluate(VISIBLE_TEXT) if re.search(r"[A-Za-z]{2,}", KEEP.sub("", text))]


def in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] + box["width"] <= size["width"]


def test_phone_keeps_the_actions_and_the_bar_on_screen(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(**PHONE), live.url)
    expect(page.locator("#shortcut-hints")).to_be_hidden()  # no keyboard on a touch screen
    assert in_viewport(page, "#generate")  # without scrolling past the form
    fill_params(page, LONG)
    page.locator("#prompt").scroll_into_view_if_needed()
    page.locator("#generate").tap()
    wait_denoising(page)
    for where in ("top", "bottom"):
        page.evaluate(f"window.scrollTo(0, {'0' if where == 'top' else 'document.body.scrollHeight'})")
        for selector in ("#progressbar", "#interrupt", "#skip"):
            assert in_viewport(page, selector), (where, selector)
    # Nothing of the page is hidden behind the bar: scrolled to the end, the last element ends above it.
    bar_top = page.locator("#action-bar").bounding_box()["y"]
    assert page.locator(".history").bounding_box()["y"] + page.locator(".history").bounding_box()["height"] <= bar_top
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#interrupt").tap()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    assert in_viewport(page, "#generate")


def test_desktop_keeps_the_keyboard_hints(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    expect(page.locator("#shortcut-hints")).to_be_visible()


def test_chinese_mode_shows_no_english(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(locale="zh-CN"), live.url)
    # The locale files themselves: the same keys, and every data-i18n key exists.
    missing = page.evaluate("""async () => {
      const en = (await import("./js/locales/en.js")).default;
      const zh = (await import("./js/locales/zh-CN.js")).default;
      const used = [...document.querySelectorAll("[data-i18n], [data-i18n-label], [data-i18n-placeholder]")]
        .map((el) => el.dataset.i18n ?? el.dataset.i18nLabel ?? el.dataset.i18nPlaceholder);
      return [...Object.keys(en).filter((k) => !(k in zh)), ...Object.keys(zh).filter((k) => !(k in en)),
              ...used.filter((k) => !(k in en))];
    }""")
    assert missing == []
    expect(page.locator("#model-note")).to_be_visible()
    assert untranslated(page) == []

    # A finished batch with a partial image, a skipped job, statistics, history and recent images.
    fill_params(page, {**LONG, "steps": "40", "batch_count": "3"})
    page.locator("#generate").click()
    wait_denoising(page)
    page.locator("#skip").click()
    expect(page.locator("#progress-job")).to_have_text("批次 2/3")
    wait_denoising(page, min_step=3)
    page.locator("#stop-keep").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect(page.locator(".gallery-item .badge")).to_have_text("部分")
    expect(page.locator(".gallery-item.skipped")).to_have_count(1)
    expect(page.locator(".recent-item")).not_to_have_count(0)
    expect(page.locator("#stats")).to_be_visible()
    assert untranslated(page) == []


def test_validation_names_the_field_in_the_ui_language(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(locale="zh-CN"), live.url)
    fill_params(page, {**QUICK, "cfg_scale": "-1", "steps": "500"})
    page.locator("#generate").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("CFG 系数：不能小于 0")
    expect(page.locator("#cfg_scale")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cfg_scale")).to_be_focused()
    assert page.locator("body").get_attribute("data-task-id") is None

    # The operator's limit (checked after the shape): named the same way, in English too.
    page.get_by_label("语言").select_option("en")
    page.locator("#cfg_scale").fill("")
    expect(page.locator("#cfg_scale")).not_to_have_attribute("aria-invalid", "true")  # typing clears the mark
    page.locator("#generate").click()
    expect(alert).to_have_text("Please check: Steps: must be at most 150")
    expect(page.locator("#steps")).to_have_attribute("aria-invalid", "true")


def test_recent_images_across_tasks(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    context = new_context()
    page = open_ui(context, live.url)
    expect(page.locator("#recent-empty")).to_be_visible()
    fill_params(page, {**QUICK, "batch_count": "1"})
    page.locator("#generate").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    first = task_id(page)
    page.locator("#generate").click()
    expect(page.locator("body")).not_to_have_attribute("data-task-id", first)
    expect(page.locator("body")).to_have_attribute("data-last-state", "completed")
    fill_params(page, LONG)
    page.locator("#generate").click()
    wait_denoising(page)
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")

    # Both tasks' images, newest first; the interrupted task has no image and says so in the history.
    recent = page.locator(".recent-item")
    expect(recent).to_have_count(2)
    assert recent.nth(1).get_attribute("data-task-id") == first
    expect(page.locator(".history-item[data-state='interrupted'] .history-thumb")).to_have_text("no image")
    page.reload()
    expect(recent).to_have_count(2)  # from the server, not this tab's memory
    recent.nth(1).locator(".recent-button").click()
    expect(page.locator("body")).to_have_attribute("data-task-id", first)
    expect(page.locator(".gallery-item")).to_have_count(1)


def test_api_docs_work_offline(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    context = new_context()
    outside: list[str] = []

    def block_outside(route: Route) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", block_outside)
    page = context.new_page()
    page.goto(f"{live.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pixelforge")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert outside == []
