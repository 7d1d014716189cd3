"""The native API's error answers carry a stable machine ``code`` (``ErrorCode``) beside the message, which clients
(the web UI) act on and translate; the A1111-compatible routes keep their shape without it."""

from __future__ import annotations

import httpx
from serverkit import MAX_ACTIVE, QUICK, submit

from pixelforge.tasks.vocabulary import ErrorCode


def _code(response: httpx.Response) -> str | None:
    return response.json().get("code")


def test_a_full_queue_says_which_limit_by_code(alice: httpx.Client, bob: httpx.Client, paused: None) -> None:
    for _ in range(MAX_ACTIVE):
        submit(alice)
    refused = alice.post("/api/v1/tasks", json=QUICK)
    assert (refused.status_code, _code(refused)) == (429, ErrorCode.OWNER_FULL)
    submit(bob)
    submit(bob)
    full = bob.post("/api/v1/tasks", json=QUICK)
    assert (full.status_code, _code(full)) == (429, ErrorCode.QUEUE_FULL)


def test_an_unknown_task_a_refused_retry_and_bad_parameters_have_their_codes(alice: httpx.Client,
                                                                           paused: None) -> None:
    unknown = alice.get("/api/v1/tasks/task(txt2img-nosuchtask)")
    assert (unknown.status_code, _code(unknown)) == (404, ErrorCode.UNKNOWN_TASK)
    queued = submit(alice)
    refused = alice.post(f"/api/v1/tasks/{queued['id']}/retry")
    assert (refused.status_code, _code(refused)) == (409, ErrorCode.NOT_RETRYABLE)
    invalid = alice.post("/api/v1/tasks", json={**QUICK, "steps": 0})
    assert (invalid.status_code, _code(invalid)) == (422, ErrorCode.INVALID_PARAMS)
    assert invalid.json()["detail"][0]["loc"] == ["body", "steps"]  # the field errors as before
    forbidden = alice.post("/api/v1/queue/pause")
    assert (forbidden.status_code, _code(forbidden)) == (403, ErrorCode.FORBIDDEN)


def test_the_a1111_routes_keep_their_error_shape(alice: httpx.Client) -> None:
    invalid = alice.post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": "many"})
    assert invalid.status_code == 422 and "code" not in invalid.json()
