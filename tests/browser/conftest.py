"""Fixtures of the browser tests: one real server and one Debian chromium for the session, fresh browser
contexts (each its own identity: its own pf_client cookie and localStorage) per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browserkit import CHROMIUM, CHROMIUM_ARGS, Shots, new_browser_context
from playwright.sync_api import Browser, BrowserContext, Playwright, expect, sync_playwright

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server

# The CPU is shared: a task may wait behind model loading; waits are for events, never fixed sleeps.
expect.set_options(timeout=90_000)


@pytest.fixture(scope="session")
def live(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("browser-data"), model=server_model, preview_every=2)
    server = start_server(settings)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # launch() gives every run a fresh temporary user-data-dir of its own.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser, live: LiveServer) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (another context = another identity); they and their tasks end with the test."""
    contexts: list[BrowserContext] = []

    def make(**kwargs: object) -> BrowserContext:
        options: dict[str, object] = {"viewport": {"width": 1100, "height": 860}, "locale": "en-US"} | kwargs
        context = new_browser_context(browser, **options)
        context.set_default_timeout(90_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    live.stop_everything()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    """Screenshots go to $PIXELFORGE_SCREENSHOTS when set (docs/screenshots for the README), else a temp dir."""
    folder = os.environ.get("PIXELFORGE_SCREENSHOTS")
    return Shots(Path(folder) if folder else tmp_path_factory.mktemp("screenshots"))
