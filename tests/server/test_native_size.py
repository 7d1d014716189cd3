"""A model with a native size (the sprite model's 32×32) draws at it, and the answer is scaled (nearest)
to the size asked for; a size no whole factor fits is a 422 naming the side. Both APIs, a real server."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest
from PIL import Image
from serverkit import wait_finished

from pixelforge.backends.sizes import SizeRefused, native_scale

SPRITE = {"prompt": "a red apple", "steps": 2, "model": "sprite"}
A1111_SPRITE = {"prompt": "a red apple", "steps": 2, "override_settings": {"sd_model_checkpoint": "sprite"}}


@pytest.mark.parametrize(("width", "height", "scale"), [(None, None, 1), (32, 32, 1), (512, 512, 16), (64, None, 2),
                                                         (None, 96, 3)])
def test_native_scale_is_one_whole_factor_for_both_sides(width: int | None, height: int | None, scale: int) -> None:
    assert native_scale("sprite", width, height, (32, 32)) == scale


@pytest.mark.parametrize(("width", "height", "side"), [(48, 48, "width"), (16, 16, "width"), (32, 80, "height"),
                                                       (64, 32, "height")])
def test_sizes_no_whole_factor_fits_are_refused_naming_the_side(width: int, height: int, side: str) -> None:
    with pytest.raises(SizeRefused) as refused:
        native_scale("sprite", width, height, (32, 32))
    assert refused.value.field == side and "32×32" in str(refused.value)


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_native_api_draws_at_the_native_size_and_scales_the_copy_to_the_asked_size(alice: httpx.Client) -> None:
    task = alice.post("/api/v1/tasks", json={**SPRITE, "width": 512, "height": 512})
    assert task.status_code == 201, task.text
    done = wait_finished(alice, task.json()["id"])
    assert done["state"] == "completed"
    assert done["info"]["adjusted_fields"] == {"width": [512, 32], "height": [512, 32]}
    assert (done["info"]["width"], done["info"]["scale"]) == (32, 16)
    image = done["images"][0]
    sprite = png(alice.get(image["url"]).content)
    scaled = png(alice.get(image["files"]["upscaled"]).content)
    assert (image["width"], image["height"]) == sprite.size == (32, 32)
    assert scaled.size == (512, 512)
    assert scaled.tobytes() == sprite.resize((512, 512), Image.Resampling.NEAREST).tobytes()


def test_a1111_answer_has_the_asked_size(alice: httpx.Client) -> None:
    response = alice.post("/sdapi/v1/txt2img", json={**A1111_SPRITE, "width": 512, "height": 512})
    assert response.status_code == 200, response.text
    (encoded,) = response.json()["images"]
    assert png(base64.b64decode(encoded)).size == (512, 512)
    info = json.loads(response.json()["info"])
    assert info["adjusted_fields"] == {"width": [512, 32], "height": [512, 32]}
    assert "Size: 32x32" in info["infotexts"][0]  # what the model drew, as the PNG says
    native = alice.post("/sdapi/v1/txt2img", json={**A1111_SPRITE, "width": 32, "height": 32})
    assert png(base64.b64decode(native.json()["images"][0])).size == (32, 32)
    assert json.loads(native.json()["info"])["adjusted_fields"] == {}


@pytest.mark.parametrize(("size", "side"), [((48, 48), "width"), ((64, 32), "height"), ((4096, 4096), "width")])
def test_sizes_the_model_cannot_make_are_422_on_both_apis(alice: httpx.Client, size: tuple[int, int],
                                                          side: str) -> None:
    width, height = size
    before = alice.get("/api/v1/tasks").json()["total"]
    native = alice.post("/api/v1/tasks", json={**SPRITE, "width": width, "height": height})
    a1111 = alice.post("/sdapi/v1/txt2img", json={**A1111_SPRITE, "width": width, "height": height})
    for response in (native, a1111):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", side]
        assert str(size[0] if side == "width" else size[1]) in response.json()["message"]
    assert alice.get("/api/v1/tasks").json()["total"] == before  # nothing stored
