"""The native API end to end, against a real server running the tiny pipeline."""

from __future__ import annotations

import io
import json

import httpx
from PIL import Image
from serverkit import MAX_ACTIVE, QUICK, running, sse_events, submit, wait_finished

from pixelforge.testing.live_server import LiveServer


def test_whole_flow_submit_follow_fetch(alice: httpx.Client) -> None:
    created = alice.post("/api/v1/tasks", json={**QUICK, "batch_count": 2, "seed": 1234})
    assert created.status_code == 201
    task = created.json()
    assert task["id"].startswith("task(txt2img-") and len(task["id"]) >= len("task(txt2img-)") + 16
    assert task["state"] in ("queued", "running")
    assert task["params"]["seed"] == 1234 and task["params"]["batch_count"] == 2
    assert task["params"]["cfg_scale"] is None  # not sent: the model's default, resolved when it runs
    assert task["events_url"] == f"/api/v1/tasks/{task['id']}/events"

    done = wait_finished(alice, task["id"])
    assert done["state"] == "completed"
    assert done["progress"]["progress"] == 1.0 and done["progress"]["phase"] == "done"
    assert done["info"]["steps"] == 3 and done["info"]["cfg_scale"] is not None
    assert done["stats"]["steps_run"] == 6 and done["stats"]["total_s"] > 0
    assert [(i["index"], i["job_no"], i["seed"]) for i in done["images"]] == [(0, 0, 1234), (1, 1, 1235)]
    assert done["position"] is None and done["error"] is None

    image = alice.get(done["images"][1]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    png = Image.open(io.BytesIO(image.content))
    assert png.size == (32, 32)
    assert "Seed: 1235" in png.text["parameters"] and png.text["parameters"].startswith("a knight with a sword")

    scaled = alice.get(done["images"][1]["url"], params={"scale": 4})
    big = Image.open(io.BytesIO(scaled.content))
    assert big.size == (128, 128)
    assert big.text["parameters"] == png.text["parameters"]
    small, large = png.convert("RGBA"), big.convert("RGBA")
    assert all(large.getpixel((4 * x + dx, 4 * y + dy)) == small.getpixel((x, y))
               for x in range(0, 32, 5) for y in range(0, 32, 7) for dx in (0, 3) for dy in (0, 3))

    listed = alice.get("/api/v1/tasks", params={"state": "completed", "limit": 200}).json()
    assert task["id"] in [t["id"] for t in listed["tasks"]]
    assert all(t["state"] == "completed" for t in listed["tasks"])


def test_previews_latest_and_by_id(alice: httpx.Client) -> None:
    # Long enough for previews to land: at most 4 a second are published, and none after the job's image.
    task = submit(alice, steps=60)
    preview_ids = [json.loads(m["data"])["data"]["id"] for m in sse_events(alice, task["id"])
                   if m["event"] == "preview"]
    assert preview_ids, "preview_every=1 must publish previews"
    latest = alice.get(f"/api/v1/tasks/{task['id']}/previews/latest")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("image/")
    assert int(latest.headers["x-preview-id"]) == preview_ids[-1]
    by_id = alice.get(f"/api/v1/tasks/{task['id']}/previews/{preview_ids[-1]}")
    assert by_id.content == latest.content
    Image.open(io.BytesIO(by_id.content)).verify()
    gone = alice.get(f"/api/v1/tasks/{task['id']}/previews/999999")
    assert gone.status_code == 404


def test_client_chosen_id_and_duplicates(alice: httpx.Client) -> None:
    task = submit(alice, id="my-task.1")
    assert task["id"] == "my-task.1"
    again = alice.post("/api/v1/tasks", json={**QUICK, "id": "my-task.1"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    wait_finished(alice, "my-task.1")


def test_interrupt_keep_partial_keeps_the_unfinished_image(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice) as task:
        stopped = alice.post(f"/api/v1/tasks/{task['id']}/interrupt", json={"keep_partial": True})
        assert stopped.status_code == 200
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and done["stop_reason"] == "user"
    assert [i["partial"] for i in done["images"]] == [True]
    assert alice.get(done["images"][0]["url"]).status_code == 200


def test_interrupt_without_body_discards_the_unfinished_image(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice) as task:
        assert alice.post(f"/api/v1/tasks/{task['id']}/interrupt").status_code == 200
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and done["images"] == []
    assert done["stats"]["steps_run"] < 150


def test_skip_ends_the_job_and_runs_the_next(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice, batch_count=2) as task:
        assert alice.post(f"/api/v1/tasks/{task['id']}/skip").status_code == 200
        done = wait_finished(alice, task["id"])
    assert done["state"] == "completed"
    assert [i["job_no"] for i in done["images"]] == [1]  # the first job was skipped, the second ran
    assert done["stats"]["steps_run"] < 300


def test_delete_cancels_queued_and_interrupts_running(keyed: LiveServer, alice: httpx.Client,
                                                      admin: httpx.Client) -> None:
    with running(keyed, alice) as active:
        admin.post("/api/v1/queue/pause")
        try:
            queued = submit(alice)
            assert queued["state"] == "queued" and queued["position"] == 1
            cancelled = alice.delete(f"/api/v1/tasks/{queued['id']}")
            assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        finally:
            admin.post("/api/v1/queue/resume")
        assert alice.delete(f"/api/v1/tasks/{active['id']}").status_code == 200
        assert wait_finished(alice, active["id"])["state"] == "interrupted"
    # Deleting a finished task leaves it as it was.
    assert alice.delete(f"/api/v1/tasks/{queued['id']}").json()["state"] == "cancelled"


def test_queue_shows_positions_running_task_and_pause(alice: httpx.Client, bob: httpx.Client,
                                                      admin: httpx.Client, paused: None) -> None:
    first, second = submit(alice), submit(bob)
    third = submit(alice)
    mine = alice.get("/api/v1/queue").json()
    assert mine["paused"] is True and mine["pending"] == 3
    # Fair turns: alice and bob alternate; who goes first depends on whom this shared server served last.
    bobs = bob.get("/api/v1/queue").json()["mine"]
    assert bobs in ([{"id": second["id"], "position": 2}], [{"id": second["id"], "position": 1}])
    alices = [1, 3] if bobs[0]["position"] == 2 else [2, 3]
    assert mine["mine"] == [{"id": first["id"], "position": alices[0]}, {"id": third["id"], "position": alices[1]}]
    assert alice.post("/api/v1/queue/resume").status_code == 403
    assert alice.post("/api/v1/queue/pause").status_code == 403
    assert alice.get("/api/v1/health").json()["paused"] is True


def test_queue_running_entry_hides_other_identities_ids(keyed: LiveServer, alice: httpx.Client,
                                                        bob: httpx.Client) -> None:
    with running(keyed, alice) as task:
        seen_by_alice = alice.get("/api/v1/queue").json()["running"]
        seen_by_bob = bob.get("/api/v1/queue").json()["running"]
    assert [(r["id"], r["mine"]) for r in seen_by_alice] == [(task["id"], True)]
    assert [(r["id"], r["mine"]) for r in seen_by_bob] == [(None, False)]


def test_per_identity_limit_answers_429_with_retry_after(alice: httpx.Client, bob: httpx.Client,
                                                        paused: None) -> None:
    for _ in range(MAX_ACTIVE):
        submit(alice)
    refused = alice.post("/api/v1/tasks", json=QUICK)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "queued or running" in refused.json()["detail"]
    submit(bob)  # bob has his own allowance
    submit(bob)
    full = bob.post("/api/v1/tasks", json=QUICK)  # 5 queued in all: the server-wide limit
    assert full.status_code == 429 and "queue is full" in full.json()["detail"]


def test_health_needs_no_identity_and_models_list_the_default(keyed: LiveServer, alice: httpx.Client) -> None:
    with keyed.client() as anonymous:
        health = anonymous.get("/api/v1/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert anonymous.get("/api/v1/models").status_code == 401
    models = alice.get("/api/v1/models").json()
    default = [m for m in models if m["default"]]
    assert len(default) == 1 and default[0]["available"] is True
    assert {"name", "title", "description", "available", "source", "default"} <= set(default[0])
    # The grid the web UI draws masks on: the sprite model's native size, the Qwen preset's art pixel.
    by_name = {m["name"]: m for m in models}
    assert by_name["sprite"]["native_size"] == [32, 32] and by_name["sprite"]["pixel_pitch"] is None
    assert by_name["qwen-image"]["native_size"] is None and by_name["qwen-image"]["pixel_pitch"] == 16.0


def test_a_model_that_reads_words_tells_how_it_reads_a_prompt(keyed: LiveServer, alice: httpx.Client) -> None:
    models = {m["name"]: m for m in alice.get("/api/v1/models").json()}
    known = models["sprite"]["vocabulary"]
    assert known["words"] > 1000 and models["qwen-image"]["vocabulary"] is None  # Qwen reads any text
    answer = alice.get("/api/v1/models/sprite/words", params={"prompt": "Two red apples and a zorp"})
    assert answer.status_code == 200
    assert answer.json() == {"model": "sprite", "vocabulary": known, "words": [
        {"word": "two", "read_as": "known", "known_word": "two"},
        {"word": "red", "read_as": "known", "known_word": "red"},
        {"word": "apples", "read_as": "plural", "known_word": "apple"},
        {"word": "zorp", "read_as": "unknown", "known_word": None},
    ]}
    for name in ("nope", "qwen-image"):  # unknown here, or its weights are not on this machine
        missing = alice.get(f"/api/v1/models/{name}/words", params={"prompt": "a cat"})
        assert missing.status_code == 404 and f"no model '{name}' here" in missing.json()["detail"]
    assert alice.get("/api/v1/models/sprite/words").status_code == 422
    assert alice.get("/api/v1/models/sprite/words", params={"prompt": "a" * 2_001}).status_code == 422
    with keyed.client() as anonymous:
        assert anonymous.get("/api/v1/models/sprite/words", params={"prompt": "a cat"}).status_code == 401


def test_openapi_describes_every_native_field(alice: httpx.Client) -> None:
    spec = alice.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    native = ["TaskCreate", "TaskOut", "ProgressOut", "ImageOut", "StatsOut", "TaskPage", "QueueOut", "RunningOut",
              "QueuedOut", "HealthOut", "ModelEntry", "InterruptRequest", "TaskParams"]
    undocumented = [f"{name}.{field}" for name in native for field, prop in schemas[name]["properties"].items()
                    if not prop.get("description")]
    assert undocumented == []
    for path in ("/api/v1/tasks", "/api/v1/tasks/{task_id}/events", "/api/v1/tasks/{task_id}/images/{index}.png",
                 "/api/v1/queue", "/sdapi/v1/txt2img", "/internal/progress"):
        assert path in spec["paths"]


def test_pixel_stage_outputs_and_sprite_sheet(alice: httpx.Client, bob: httpx.Client) -> None:
    task = submit(alice, batch_count=2, pixel={"pitch": 2})
    done = wait_finished(alice, task["id"])
    assert done["state"] == "completed", done["error"]
    files = done["images"][0]["files"]
    assert {"raw", "upscaled", "gpl", "hex"} <= set(files)
    media = {kind: alice.get(url) for kind, url in files.items()}
    assert all(r.status_code == 200 for r in media.values())
    assert media["raw"].headers["content-type"] == "image/png"
    assert media["gpl"].headers["content-type"].startswith("text/plain") and media["gpl"].text.startswith("GIMP")
    sprite = Image.open(io.BytesIO(alice.get(done["images"][0]["url"]).content))
    raw = Image.open(io.BytesIO(media["raw"].content))
    # One pixel per art pixel: half the raw size at pitch 2, unless the model's output is already 1× (sprite).
    one_x = done["info"]["model"] == "sprite"
    assert sprite.size == (raw.size if one_x else (raw.size[0] // 2, raw.size[1] // 2))
    sheet = alice.get(done["sheet_url"])
    assert sheet.status_code == 200 and Image.open(io.BytesIO(sheet.content)).format == "PNG"
    assert alice.get(f"/api/v1/tasks/{task['id']}/images/0/nothing").status_code == 404
    for url in [*files.values(), done["sheet_url"]]:
        assert bob.get(url).status_code == 404
