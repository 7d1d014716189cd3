"""End notices (callback_url) to a real receiver on 127.0.0.1: signed, retried after a 500, and refused at
submission for any host the server's callback_hosts setting does not list."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from serverkit import KEYS, QUICK, bearer

from pixelforge.config import Settings
from pixelforge.testing.live_server import LiveServer, start_server

SECRET = "notice-secret-0123"


class Receiver:
    """An HTTP server on 127.0.0.1 that answers 500 to the first POST and 200 afterwards, keeping what came."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self.delivered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if not receiver.received else 200
                receiver.received.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status == 200:
                    receiver.delivered.set()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()


@pytest.fixture(scope="module")
def notifying(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Settings(data_dir=tmp_path_factory.mktemp("notices"), model=server_model,
                                 callback_hosts=["127.0.0.1"], callback_secret=SECRET, callback_retry_s=0.05))
    yield live
    live.stop()


def test_the_end_notice_is_signed_and_retried_after_a_500(notifying: LiveServer, receiver: Receiver) -> None:
    with notifying.client() as client:
        created = client.post("/api/v1/tasks", json={**QUICK, "callback_url": receiver.url})
        assert created.status_code == 201, created.text
        assert created.json()["callback_url"] == receiver.url
        assert receiver.delivered.wait(120)
    (_, first, first_status), (headers, body, status) = receiver.received[:2]
    assert (first_status, status) == (500, 200) and first == body  # the same notice again
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Pixelforge-Signature"] == expected
    view = json.loads(body)
    assert view["id"] == created.json()["id"] and view["state"] == "completed" and len(view["images"]) == 1


def test_a_host_the_setting_does_not_list_is_refused_at_submission(notifying: LiveServer) -> None:
    with notifying.client() as client:
        for url in ("http://localhost:9/done", "http://10.0.0.1/x", "ftp://127.0.0.1/x", "http://u:p@127.0.0.1/",
                    "not a url"):
            refused = client.post("/api/v1/tasks", json={**QUICK, "callback_url": url})
            assert refused.status_code == 422, (url, refused.text)
            assert "callback_url" in refused.text, url
        assert "callback_hosts" in client.post(
            "/api/v1/tasks", json={**QUICK, "callback_url": "http://localhost:9/"}).json()["message"]
        assert client.get("/api/v1/tasks").json()["total"] <= 1  # nothing stored of a refused one


def test_by_default_no_callback_is_accepted(keyed: LiveServer) -> None:
    with keyed.client(headers=bearer(KEYS["alice"])) as alice:
        refused = alice.post("/api/v1/tasks", json={**QUICK, "callback_url": "http://127.0.0.1:9/"})
    assert refused.status_code == 422 and "callback_hosts" in refused.json()["message"]
    assert "allowed: none" in refused.json()["message"]
