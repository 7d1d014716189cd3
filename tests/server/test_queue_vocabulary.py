"""The stop-and-queue vocabulary over HTTP (issue 29), on the keyed server: each route for its owner, 404 for
another identity (as every task route), a clear 422 for a bad body."""

from __future__ import annotations

import httpx
from serverkit import running, wait_finished

from pixelforge.testing.live_server import LiveServer


def test_stop_after_this_image_keeps_it_and_ends_the_task(keyed: LiveServer, alice: httpx.Client,
                                                          bob: httpx.Client) -> None:
    with running(keyed, alice, steps=6, batch_count=3) as task:
        url = f"/api/v1/tasks/{task['id']}/interrupt"
        assert bob.post(url, json={"when": "after_job"}).status_code == 404
        assert alice.post(url, json={"when": "later"}).status_code == 422
        assert alice.post(f"/api/v1/tasks/{task['id']}/skip", json={"when": "after_job"}).status_code == 422
        asked = alice.post(url, json={"when": "after_job"})
        assert asked.status_code == 200, asked.text
        stop = asked.json()["stop_requested"]
        assert (stop["kind"], stop["when"]) == ("interrupt", "after_job") and stop["at"] > 0
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and done["stop_reason"] == "user", done
    assert [(i["job_no"], i["partial"]) for i in done["images"]] == [(0, False)]
    assert done["stop_requested"] is None
