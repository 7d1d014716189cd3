"""Stuck states (issue 14, item 1): the buttons follow the server's task state plus the one request in flight, and
every failed request leaves the page where the user can act, with the reason shown.

Failures are made with Playwright's request routing (a 429, a 500, a dropped connection) and with a server that
has no worker at all, so each state is reached on purpose, not by timing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from browserkit import LONG, fill_params, open_ui, task_id, wait_denoising
from playwright.sync_api import BrowserContext, Page, Route, expect

from pixelforge.config import Settings
from pixelforge.tasks.model import TaskEnd, TaskState
from pixelforge.tasks.stop import StopToken
from pixelforge.testing.live_server import LiveServer, start_server


def fail_with(status: int, detail: str, headers: dict[str, str] | None = None) -> Callable[[Route], None]:
    def handler(route: Route) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps({"detail": detail}),
                      headers=headers or {})

    return handler


def submit_only(handler: Callable[[Route], None]) -> Callable[[Route], None]:
    """Apply ``handler`` to POST /api/v1/tasks only; GETs of the task list go through."""

    def route(route: Route) -> None:
        if route.request.method == "POST":
            handler(route)
        else:
            route.continue_()

    return route


def expect_idle(page: Page) -> None:
    expect(page.locator("#generate")).to_be_visible()
    expect(page.locator("#generate")).to_have_attribute("aria-disabled", "false")
    for hidden in ("#interrupt", "#interrupting", "#skip", "#stop-keep"):
        expect(page.locator(hidden)).to_be_hidden()


def test_a_failed_restart_returns_to_generate(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, LONG)
    page.locator("#generate").click()
    wait_denoising(page)
    first = task_id(page)

    # Ctrl+Enter restarts: the old task stops, the new submit is refused (429) -> Generate, with the reason.
    page.route("**/api/v1/tasks", submit_only(fail_with(429, "too many tasks", {"Retry-After": "7"})))
    page.locator("#prompt").press("Control+Enter")
    expect(page.get_by_role("alert")).to_contain_text("too many tasks")
    expect(page.get_by_role("alert")).to_contain_text("Try again in 7s")
    expect_idle(page)
    assert live.wait_state(first, {TaskState.INTERRUPTED}) is TaskState.INTERRUPTED

    # The network is down: the same.
    page.unroute("**/api/v1/tasks")
    page.route("**/api/v1/tasks", submit_only(lambda route: route.abort("connectionrefused")))
    page.locator("#generate").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be reached")
    expect_idle(page)

    # And once the server answers again, Generate works.
    page.unroute("**/api/v1/tasks")
    page.locator("#generate").click()
    wait_denoising(page)
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")


def test_failed_interrupt_and_skip_can_be_retried(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, {**LONG, "batch_count": "3"})
    page.locator("#generate").click()
    wait_denoising(page)
    running = task_id(page)

    page.route("**/skip", fail_with(503, "busy"))
    page.locator("#skip").click()
    expect(page.get_by_role("alert")).to_contain_text("The server refused: busy")
    expect(page.locator("#skip")).to_be_enabled()
    expect(page.locator("#progress-job")).to_have_text("Job 1/3")

    page.route("**/interrupt", fail_with(500, "database is locked"))
    page.locator("#interrupt").click()
    expect(page.get_by_role("alert")).to_contain_text("The server refused: database is locked")
    expect(page.locator("#interrupt")).to_be_visible()
    expect(page.locator("#interrupting")).to_be_hidden()
    assert live.runtime.service.get(running).state is TaskState.RUNNING

    # Retries reach the server: the skip moves on to job 2, the interrupt ends the task.
    page.unroute("**/skip")
    page.unroute("**/interrupt")
    page.locator("#skip").click()
    expect(page.locator("#progress-job")).to_have_text("Job 2/3")
    page.locator("#interrupt").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    expect_idle(page)


@pytest.fixture(scope="module")
def dead(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose worker is dead: tasks queue and nobody runs them."""
    server = start_server(Settings(data_dir=tmp_path_factory.mktemp("dead-data"), model=server_model), workers=0)
    yield server
    server.stop()


def test_a_dead_worker_never_leaves_the_page_stuck(
    new_context: Callable[..., BrowserContext], dead: LiveServer
) -> None:
    page = open_ui(new_context(), dead.url)
    fill_params(page, LONG)

    # Queued forever: Interrupt cancels it at once (the store does it, no worker needed).
    page.locator("#generate").click()
    expect(page.locator("#progress-queue")).to_have_text("In queue: 1/1")
    page.locator("#interrupt").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "cancelled")
    expect_idle(page)

    # Running on a worker that then died: the stop is recorded, nobody confirms it.
    cancelled = task_id(page)
    page.locator("#generate").click()
    expect(page.locator("#progress-queue")).to_have_text("In queue: 1/1")
    # The queue text may show before the page attaches the new task: wait for its id, not the cancelled one.
    expect(page.locator("body")).not_to_have_attribute("data-task-id", cancelled)
    ghost = dead.runtime.service.store.claim_next("ghost-worker")
    assert ghost is not None and ghost.id == task_id(page)
    dead.runtime.service.start(ghost, StopToken(), "cpu")
    expect(page.locator("#interrupt")).to_be_visible()
    page.locator("#interrupt").click()
    expect(page.locator("#interrupting")).to_be_visible()
    page.wait_for_function("window.pixelforge.task.stop_requested?.kind === 'interrupt'")

    # The confirmation check (a timer in the page; called here instead of waiting for it) lets the user go on.
    page.evaluate("window.pixelforge.checkStalled()")
    expect(page.get_by_role("alert")).to_contain_text("the worker may be down")
    expect_idle(page)
    expect(page.locator("#restore")).to_be_visible()  # the task is still there to re-attach to
    dead.runtime.service.finish(ghost.id, TaskEnd(state=TaskState.INTERRUPTED, stop_reason="test"))
