"""Inputs a hostile or careless client sends that once crashed a route: each is a 4xx with a message."""

from __future__ import annotations

import httpx
import pytest
from serverkit import QUICK, submit, wait_finished

from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

HUGE = 10**400
BEYOND_SQLITE = 2**63
LONG_PART = "a" * 300


@pytest.fixture(scope="module")
def finished_id(keyed: LiveServer) -> str:
    from serverkit import KEYS, bearer

    with keyed.client(headers=bearer(KEYS["alice"])) as alice:
        return wait_finished(alice, submit(alice)["id"])["id"]


def _raw_json(client: httpx.Client, path: str, text: str) -> httpx.Response:
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/tasks", {"params": {"offset": BEYOND_SQLITE}}),
        ("GET", "/api/v1/tasks/{id}/previews/" + str(BEYOND_SQLITE), {}),
        ("GET", "/api/v1/tasks/{id}/events", {"params": {"after": BEYOND_SQLITE}}),
        ("GET", "/api/v1/tasks/{id}/images/" + str(BEYOND_SQLITE) + ".png", {}),
        ("POST", "/sdapi/v1/txt2img", {"json": {**QUICK, "width": HUGE}}),
        ("POST", "/sdapi/v1/txt2img", {"json": {**QUICK, "height": -HUGE}}),
        ("POST", "/api/v1/tasks", {"json": {**QUICK, "model": LONG_PART}}),
        ("POST", "/api/v1/tasks", {"json": {**QUICK, "model": f"/{LONG_PART}/x"}}),
        ("POST", "/api/v1/tasks", {"json": {**QUICK, "lora": f"{LONG_PART}.safetensors"}}),
        ("POST", "/api/v1/tasks", {"json": {**QUICK, "pixel": {"palette": f"{LONG_PART}.hex"}}}),
        ("POST", "/sdapi/v1/txt2img", {"json": {**QUICK, "override_settings": {"sd_model_checkpoint": LONG_PART}}}),
        ("POST", "/sdapi/v1/options", {"json": {"sd_model_checkpoint": LONG_PART}}),
    ],
)
def test_out_of_range_and_over_long_values_are_4xx(alice: httpx.Client, finished_id: str, method: str, path: str,
                                                   kwargs: dict) -> None:
    response = alice.request(method, path.replace("{id}", finished_id), **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("path", "text", "loc"),
    [
        ("/api/v1/tasks", '{"prompt": "a \\ud800 knight", "steps": 3, "width": 32, "height": 32}', "body.prompt"),
        ("/sdapi/v1/txt2img", '{"prompt": "\\udfff", "steps": 3, "width": 32, "height": 32}', "body.prompt"),
        ("/sdapi/v1/txt2img", '{"steps": 3, "width": 32, "height": 32, "styles": ["\\ud800"]}', "body.styles.0"),
        ("/sdapi/v1/options", '{"samples_format": "\\ud834"}', "body.samples_format"),
        ("/sdapi/v1/options", '{"\\ud834": 1}', "body"),
    ],
)
def test_lone_surrogates_are_422(alice: httpx.Client, path: str, text: str, loc: str) -> None:
    response = _raw_json(alice, path, text)
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(loc)


def test_a_valid_surrogate_pair_is_text(alice: httpx.Client) -> None:
    response = _raw_json(alice, "/api/v1/tasks", '{"prompt": "a \\ud83d\\udc09 dragon", "steps": 1, "width": 32,'
                         ' "height": 32}')
    assert response.status_code == 201, response.text
    assert response.json()["params"]["prompt"] == "a \U0001f409 dragon"
    wait_finished(alice, response.json()["id"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/tasks/task(txt2img-unknown)", 404),
        ("GET", "/api/v1/no-such-route", 404),
        ("PUT", "/api/v1/tasks", 405),
        ("GET", "/api/v1/tasks?limit=0", 422),
        ("GET", "/api/v1/tasks?scope=all", 403),
    ],
)
def test_every_error_body_has_a_message(alice: httpx.Client, method: str, path: str, status: int) -> None:
    response = alice.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert isinstance(body["message"], str) and body["message"] and body["detail"]


def test_unauthorized_has_a_message_and_keeps_its_challenge(keyed: LiveServer) -> None:
    with keyed.client() as anonymous:
        response = anonymous.get("/api/v1/tasks")
    assert response.status_code == 401 and response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("credentials", [b"Basic \xe9\xe9", b"Basic !!!", b"Basic //79", b"Bearer \xff"])
def test_malformed_credentials_are_refused_with_a_message(keyed: LiveServer, credentials: bytes) -> None:
    with keyed.client() as anonymous:  # not ASCII, not base64, not UTF-8 once decoded, a key no one has
        response = anonymous.get("/api/v1/tasks", headers={"Authorization": credentials})
    assert response.status_code == 401 and response.json()["message"]


def _upload_with_params(client: httpx.Client, params: bytes) -> httpx.Response:
    init = png_bytes(sprite())
    return client.post("/api/v1/tasks/upload", files={"init_image": ("init.png", init), "params": (None, params)})


def test_params_that_are_not_utf8_are_422(alice: httpx.Client) -> None:
    """Starlette would read them as Latin-1 and store mojibake."""
    before = alice.get("/api/v1/tasks").json()["total"]
    response = _upload_with_params(alice, b'{"prompt": "caf\xe9", "steps": 1, "width": 32, "height": 32}')
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "body.params: must be UTF-8 text"
    assert alice.get("/api/v1/tasks").json()["total"] == before
    valid = _upload_with_params(alice, '{"prompt": "café", "steps": 1, "width": 32, "height": 32}'.encode())
    assert valid.status_code == 201, valid.text
    assert wait_finished(alice, valid.json()["id"])["params"]["prompt"] == "café"
