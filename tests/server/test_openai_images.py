"""The OpenAI Images API (/v1) driven with the real openai SDK against real servers: models, generations
(b64 and url), edits with OpenAI's mask convention, errors as the SDK's typed exceptions, identities, and a
client that goes away stopping its task inside a step."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from PIL import Image
from serverkit import KEYS, bearer, held_after_a_step

from pixelforge.server.auth import ANONYMOUS
from pixelforge.server.client_gone import CLIENT_GONE
from pixelforge.tasks.model import TaskState
from pixelforge.testing.hooks import Hold
from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

QUICK = {"steps": 3}
LONG = {"steps": 150}


def sdk(live: LiveServer, key: str = "sk-anything", **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=key, max_retries=0, timeout=120, **kwargs)


@pytest.fixture
def alice_sdk(keyed: LiveServer) -> Iterator[openai.OpenAI]:
    with sdk(keyed, KEYS["alice"]) as client:
        yield client


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def grid(image: Image.Image, side: int = 32) -> np.ndarray:
    """An image at the sprite's own grid (an upscaled copy read back one pixel per block)."""
    pixels = np.asarray(image.convert("RGBA"))
    factor = pixels.shape[1] // side
    return pixels[::factor, ::factor]


def test_models_lists_the_servers_models_by_their_names(alice_sdk: openai.OpenAI, keyed: LiveServer) -> None:
    names = [m.id for m in alice_sdk.models.list()]
    assert keyed.runtime.settings.model in names
    assert alice_sdk.models.retrieve(names[0]).id == names[0]
    with pytest.raises(openai.NotFoundError):
        alice_sdk.models.retrieve("no-such-model")


def test_generate_b64_is_a_task_of_the_callers_with_its_id_in_a_header(
    alice_sdk: openai.OpenAI, alice: httpx.Client, bob: httpx.Client
) -> None:
    raw = alice_sdk.images.with_raw_response.generate(
        model="gpt-image-1", prompt="a red apple", n=2, size="auto", quality="high", user="u1", extra_body=QUICK)
    task_id = raw.headers["x-task-id"]
    result = raw.parse()
    assert len(result.data) == 2 and result.output_format == "png"
    images = [decoded(item.b64_json or "") for item in result.data]
    assert all(image.format == "PNG" for image in images)
    assert result.size == f"{images[0].width}x{images[0].height}"
    task = alice.get(f"/api/v1/tasks/{task_id}").json()  # the same task the web UI lists
    assert task["state"] == "completed" and task["params"]["prompt"] == "a red apple"
    assert task["params"]["batch_size"] == 2 and task["params"]["steps"] == 3
    assert bob.get(f"/api/v1/tasks/{task_id}").status_code == 404


def test_generate_url_serves_the_image_to_the_same_key_only(
    alice_sdk: openai.OpenAI, alice: httpx.Client, bob: httpx.Client
) -> None:
    result = alice_sdk.images.generate(prompt="a blue fish", response_format="url", size="512x512", extra_body=QUICK)
    url = result.data[0].url or ""
    image = Image.open(io.BytesIO(alice.get(url).content))
    assert image.size == (512, 512)  # the model's 32×32 sprite, nearest-upscaled to the size asked for
    assert bob.get(url).status_code == 404


def test_edit_with_an_openai_mask_keeps_every_unmasked_pixel(alice_sdk: openai.OpenAI) -> None:
    original = sprite()
    mask = np.full((32, 32, 4), 255, np.uint8)
    mask[:, :16, 3] = 0  # transparent left half: repainted
    result = alice_sdk.images.edit(
        image=("sprite.png", png_bytes(original), "image/png"),
        mask=("mask.png", png_bytes(Image.fromarray(mask, "RGBA")), "image/png"),
        prompt="a green frog", model="dall-e-2", extra_body=QUICK)
    out = grid(decoded(result.data[0].b64_json or ""))
    assert np.array_equal(out[:, 16:], np.asarray(original)[:, 16:])
    assert not np.array_equal(out[:, :16], np.asarray(original)[:, :16])


def test_bad_requests_are_openai_errors_with_the_param(alice_sdk: openai.OpenAI, keyed: LiveServer) -> None:
    cases: list[tuple[Callable[[], object], str | None]] = [
        (lambda: alice_sdk.images.generate(prompt="x", size="33x33"), "size"),
        (lambda: alice_sdk.images.generate(prompt="x", size="big"), "size"),
        (lambda: alice_sdk.images.generate(prompt="x", model="no-such-model"), "model"),
        (lambda: alice_sdk.images.generate(prompt="x", n=11), "n"),
        (lambda: alice_sdk.images.generate(prompt="x", n=9), "n"),  # over the server's batch limit
        (lambda: alice_sdk.images.generate(prompt="x", extra_body={"stepz": 3}), "stepz"),
        (lambda: alice_sdk.images.edit(image=("a.png", b"not an image", "image/png"), prompt="x"), "image"),
        (lambda: alice_sdk.images.edit(image=("a.png", png_bytes(sprite()), "image/png"), prompt="x",
                                       mask=("m.png", png_bytes(sprite().convert("RGB")), "image/png")), "mask"),
    ]
    before = len(keyed.runtime.service.list(limit=200))
    for call, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            call()
        assert caught.value.status_code == 400
        body = caught.value.body
        assert isinstance(body, dict) and body["message"] and body["type"] == "invalid_request_error", body
        assert body["param"] == param, body
    assert len(keyed.runtime.service.list(limit=200)) == before  # nothing was queued
    with sdk(keyed, "wrong-key") as stranger, pytest.raises(openai.AuthenticationError) as caught:
        stranger.images.generate(prompt="x")
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "invalid_api_key"


def test_a_cross_site_origin_with_a_key_is_served(keyed: LiveServer) -> None:
    """A JSON request with an Authorization header is no form a browser sends across sites without CORS: a
    guard against cross-site forms must let an OpenAI client (a web app's backend, a browser extension) through."""
    with sdk(keyed, KEYS["alice"], default_headers={"Origin": "http://elsewhere.example"}) as client:
        assert client.images.generate(prompt="a star", extra_body=QUICK).data
    refused = httpx.post(f"{keyed.url}/v1/images/generations", content=b'{"prompt": ', headers={
        **bearer(KEYS["alice"]), "content-type": "application/json"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] is None


def test_without_keys_any_token_gets_the_anonymous_identity(open_server: LiveServer) -> None:
    with sdk(open_server, "sk-whatever") as client:
        raw = client.images.with_raw_response.generate(prompt="a cat", extra_body=QUICK)
    task = open_server.runtime.service.get(raw.headers["x-task-id"])
    assert task.owner == ANONYMOUS and task.state is TaskState.COMPLETED


def test_a_client_that_goes_away_stops_its_task_inside_a_step(
    keyed: LiveServer, run_coroutine: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    service = keyed.runtime.service

    async def abandon(hold: Hold) -> str:
        async with openai.AsyncOpenAI(base_url=f"{keyed.url}/v1", api_key=KEYS["alice"], max_retries=0) as client:
            request = asyncio.ensure_future(client.images.generate(prompt="a slow dragon", extra_body=LONG))
            assert await asyncio.to_thread(hold.reached.wait, 60), "the task must be held after its first step"
            [task] = service.list(states=[TaskState.RUNNING], limit=1)
            request.cancel()  # what LibreChat's abort does: the connection closes
            with pytest.raises(asyncio.CancelledError):
                await request
            return task.id

    with held_after_a_step(keyed) as hold:
        task = service.wait(run_coroutine(abandon(hold)), timeout=60)
    assert task.owner == "key:alice"
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == CLIENT_GONE
    assert task.progress.step == hold.noted.progress.step  # stopped inside the step it was held in: none finished after
