"""Helpers of the browser tests: a real pixelforge server (Runtime + uvicorn on a free loopback port, the tiny
Qwen-Image pipeline as its model) and Debian's chromium driven by Playwright.

Nothing here waits for a fixed time: every wait is for something the page or the server shows.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Runs to the end in a few seconds on two CPU cores, at the bundled sprite model's own size (32×32).
QUICK_SIDE = 32
QUICK = {"prompt": "a knight with a sword", "steps": "40", "width": str(QUICK_SIDE), "height": str(QUICK_SIDE)}
# Runs far longer than any test needs (16 jobs of 150 steps); every test stops it itself.
LONG = {"prompt": "a slow dragon", "steps": "150", "width": "32", "height": "32", "batch_count": "16"}
# A fake Screen Wake Lock API that records what the page asks for (headless chromium may refuse the real one).
FAKE_WAKE_LOCK = """
(() => {
  window.__wakeLog = [];
  const wakeLock = {
    async request(type) {
      window.__wakeLog.push("request:" + type);
      const sentinel = new EventTarget();
      sentinel.released = false;
      sentinel.type = type;
      sentinel.release = async () => {
        if (sentinel.released) return;
        sentinel.released = true;
        window.__wakeLog.push("release");
        sentinel.dispatchEvent(new Event("release"));
      };
      return sentinel;
    },
  };
  Object.defineProperty(Navigator.prototype, "wakeLock", { get: () => wakeLock, configurable: true });
})();
"""


class Shots:
    """Screenshots of the main states, palette-quantised so that they stay small enough to commit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str, full_page: bool = False) -> Path:
        png = page.screenshot(full_page=full_page, animations="disabled", caret="hide")
        image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
        path = self.folder / f"{name}.png"
        image.save(path, optimize=True)
        return path


def open_ui(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def fill_params(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"#{name}").fill(value)


def progress_value(page: Page) -> int:
    return int(page.locator("#progressbar").get_attribute("aria-valuenow") or "0")


def task_id(page: Page) -> str:
    value = page.locator("body").get_attribute("data-task-id")
    assert value, "no task attached"
    return value


def wait_denoising(page: Page, min_step: int = 2) -> None:
    """Until the attached task is running and has finished ``min_step`` steps."""
    expect(page.locator("#interrupt")).to_be_visible()
    page.wait_for_function(
        """min => {
          const task = window.pixelforge.task;
          return task && task.state === "running" && task.progress.phase === "denoise" && task.progress.step >= min;
        }""",
        arg=min_step,
    )


def new_browser_context(browser: Browser, **kwargs: object) -> BrowserContext:
    context = browser.new_context(**kwargs)  # type: ignore[arg-type]
    context.add_init_script(FAKE_WAKE_LOCK)
    return context
