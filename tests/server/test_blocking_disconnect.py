"""A1111's blocking routes (/sdapi/v1/txt2img, img2img): a client that disconnects while it waits stops its
task inside a step, and the images the task finished before stay in the history."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from serverkit import KEYS, bearer

from pixelforge.server.client_gone import CLIENT_GONE
from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold, denoiser, until_stopped
from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

STEPS = 150
SPRITE_B64 = base64.b64encode(png_bytes(sprite())).decode()


@pytest.mark.parametrize(("route", "extra"), [
    ("/sdapi/v1/txt2img", {}),
    ("/sdapi/v1/img2img", {"init_images": [SPRITE_B64], "denoising_strength": 1.0}),
])
def test_a_disconnect_stops_the_task_and_keeps_its_finished_images(
    keyed: LiveServer, run_coroutine: Callable[[Coroutine[Any, Any, Any]], Any], route: str, extra: dict
) -> None:
    service = keyed.runtime.service

    def second_job() -> str | None:
        """The running task once its first job's image is finished and its second job has made a step."""
        tasks = service.list(states=[TaskState.RUNNING], limit=1)
        return tasks[0].id if tasks and tasks[0].progress.job_no >= 1 and tasks[0].progress.step >= 1 else None

    hold = Hold(denoiser(keyed.runtime), when=lambda: second_job() is not None,
                until=lambda timeout: (task_id := second_job()) is not None
                and until_stopped(keyed.runtime, task_id)(timeout))

    async def abandon() -> str:
        body = {"prompt": "a slow dragon", "steps": STEPS, "width": 32, "height": 32, "n_iter": 2, **extra}
        async with httpx.AsyncClient(base_url=keyed.url, headers=bearer(KEYS["alice"]), timeout=120) as client:
            request = asyncio.ensure_future(client.post(route, json=body))
            assert await asyncio.to_thread(hold.reached.wait, 60), "the task must reach its second job"
            task_id = second_job()
            request.cancel()  # the script is stopped: its connection closes
            with pytest.raises(asyncio.CancelledError):
                await request
            assert task_id is not None
            return task_id

    try:
        task = service.wait(run_coroutine(abandon()), timeout=60)
    finally:
        hold.remove()
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == CLIENT_GONE
    assert task.progress.job_no == 1 and 1 <= task.progress.step < task.progress.steps
    assert [image.job_no for image in task.images] == [0]  # the first job's image stays in the history
