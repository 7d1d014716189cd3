"""A worker killed with -9 under the task the page follows (issue 26.2): the bar does not freeze at the dead run's
last step, it says the task was requeued, and the task runs on under it on another worker. A real distributed
deployment: an API server, a worker process killed with -9, a second worker, a real Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

from browserkit import LONG, fill_params, new_browser_context, open_ui, wait_denoising
from playwright.sync_api import Browser, expect

from pixelforge.config import Settings
from pixelforge.testing.redis_server import RedisServer
from tests.integration.test_dead_worker import doomed_deployment


def test_the_bar_shows_a_requeue_after_its_worker_is_lost(
    browser: Browser, redis_server: RedisServer, server_model: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", model=server_model, device="cpu", redis_url=redis_server.url,
                        redis_namespace=f"t-{uuid.uuid4().hex}", preview_every=0)
    context = new_browser_context(browser, viewport={"width": 1100, "height": 860}, locale="en-US")
    context.set_default_timeout(90_000)
    with doomed_deployment(settings, tmp_path / "worker.log") as deployment:
        try:
            page = open_ui(context, deployment.server.url)
            fill_params(page, LONG)
            page.locator("#generate").click()
            wait_denoising(page)  # on the doomed worker, the only one
            deployment.start_survivor()
            deployment.kill_doomed()
            expect(page.locator("#progress-textinfo")).to_contain_text("(worker lost — requeued, attempt 2)")
            wait_denoising(page)  # the second run goes on under the same bar, and still says which attempt it is
            expect(page.locator("#progress-textinfo")).to_have_text("Denoising… (worker lost — requeued, attempt 2)")
            page.locator("#interrupt").click()
            expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
        finally:
            context.close()
