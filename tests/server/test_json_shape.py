"""Bodies built to make validation slow or the answer huge (millions of bad elements, unknown keys,
nesting hundreds deep) are refused at the door with a small 422; nothing deep is ever stored."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from serverkit import QUICK

from pixelforge.server.errors import MAX_REPORTED_ERRORS
from pixelforge.server.json_shape import MAX_JSON_DEPTH, MAX_JSON_VALUES, json_shape_problem

# Well under the image routes' body limit, and two hundred times the values any request needs.
MANY = 2_000_000


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_the_usual_bodies_pass_untouched() -> None:
    image = base64.b64encode(bytes(range(256)) * 40_000).decode()  # 13 MB of base64, one value
    assert json_shape_problem(json.dumps({**QUICK, "init_image": f"data:image/png;base64,{image}"}).encode()) is None
    prompt = "[{," * 20_000  # brackets and commas inside a string are text
    assert json_shape_problem(json.dumps({"prompt": prompt, "styles": ['"\\"[']}).encode()) is None
    assert json_shape_problem(json.dumps(_nested(MAX_JSON_DEPTH - 1)).encode()) is None
    assert json_shape_problem(json.dumps(list(range(MAX_JSON_VALUES - 1))).encode()) is None


def test_too_many_values_or_too_deep_is_a_problem() -> None:
    assert "values" in json_shape_problem(json.dumps(list(range(MAX_JSON_VALUES + 1))).encode())
    assert "deeper" in json_shape_problem(json.dumps(_nested(MAX_JSON_DEPTH + 1)).encode())
    assert "deeper" in json_shape_problem(b"[" * 100_000)


def _assert_small_422(response: httpx.Response, words: str) -> None:
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 2_000
    body = response.json()
    assert body["detail"][0]["loc"] == ["body"] and words in body["message"]


def test_millions_of_bad_init_images_are_a_small_422(alice: httpx.Client) -> None:
    body = b'{"init_images": [' + b",".join([b"0"] * MANY) + b"]}"
    response = alice.post("/sdapi/v1/img2img", content=body, headers={"content-type": "application/json"})
    _assert_small_422(response, "JSON values")
    assert alice.get("/api/v1/health").status_code == 200


def test_millions_of_unknown_keys_are_a_small_422(alice: httpx.Client) -> None:
    body = json.dumps({**QUICK, **{f"k{i}": 0 for i in range(MANY // 4)}}).encode()
    for content_type in ("application/json", "application/vnd.client+json", None):
        headers = {"content-type": content_type} if content_type else {}
        _assert_small_422(alice.post("/api/v1/tasks", content=body, headers=headers), "JSON values")


def test_a_form_body_is_not_read_as_json(alice: httpx.Client) -> None:
    """Image bytes are full of brackets and commas: multipart bodies are not counted as JSON."""
    response = alice.post("/api/v1/tasks/upload", files={"init_image": ("x.png", b"[[[,,," * 10_000)},
                          data={"params": json.dumps(QUICK)})
    assert response.status_code == 422, response.text
    assert "init_image" in response.json()["message"] and "JSON values" not in response.json()["message"]


def test_the_errors_of_one_answer_are_capped(alice: httpx.Client) -> None:
    count = MAX_REPORTED_ERRORS * 10
    response = alice.post("/sdapi/v1/img2img", json={**QUICK, "init_images": [0] * count})
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == MAX_REPORTED_ERRORS
    assert body["message"].endswith(f"(and {count - MAX_REPORTED_ERRORS} more errors)")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300])
def test_deep_options_are_refused_and_options_still_answer(alice: httpx.Client, depth: int) -> None:
    response = alice.post("/sdapi/v1/options", json={"deep_option": _nested(depth)})
    _assert_small_422(response, "deeper")
    options = alice.get("/sdapi/v1/options")
    assert options.status_code == 200 and "deep_option" not in options.json()


def test_deep_alwayson_scripts_are_refused_before_anything_runs(alice: httpx.Client) -> None:
    before = alice.get("/api/v1/tasks").json()["total"]
    scripts = {"some script": {"args": [_nested(300)]}}
    response = alice.post("/sdapi/v1/txt2img", json={**QUICK, "alwayson_scripts": scripts})
    _assert_small_422(response, "deeper")
    assert alice.get("/api/v1/tasks").json()["total"] == before


def test_the_params_part_of_an_upload_is_bounded_too(alice: httpx.Client) -> None:
    params = json.dumps({**QUICK, **{f"k{i}": 0 for i in range(MAX_JSON_VALUES * 2)}})
    response = alice.post("/api/v1/tasks/upload", files={"init_image": ("x.png", b"not an image")},
                          data={"params": params})
    assert response.status_code == 422 and len(response.content) < 2_000
    assert response.json()["message"].startswith("body.params: more than")
