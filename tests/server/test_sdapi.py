"""The AUTOMATIC1111-compatible API: bodies and response shapes field by field, as clients use them."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image
from serverkit import KEYS, QUICK, held_after_a_step, running, sse_events, submit

from pixelforge.testing.live_server import LiveServer

# What webuiapi 0.9.17's txt2img() sends with its defaults (plus an extension's entry).
WEBUIAPI_BODY = {
    "enable_hr": False, "denoising_strength": 0.7, "firstphase_width": 0, "firstphase_height": 0, "hr_scale": 2,
    "hr_upscaler": "Latent", "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0, "prompt": "a red fox",
    "styles": [], "seed": 77, "subseed": -1, "subseed_strength": 0.0, "seed_resize_from_h": 0,
    "seed_resize_from_w": 0, "batch_size": 2, "n_iter": 1, "steps": 3, "cfg_scale": 7.0, "width": 36,
    "height": 32, "restore_faces": False, "tiling": False, "do_not_save_samples": False, "do_not_save_grid": False,
    "negative_prompt": "blurry", "eta": 1.0, "s_churn": 0, "s_tmax": 0, "s_tmin": 0, "s_noise": 1,
    "override_settings": {}, "override_settings_restore_afterwards": True, "script_args": [],
    "sampler_index": "Euler a", "script_name": None, "send_images": True, "save_images": False,
    "alwayson_scripts": {"ControlNet": {"args": []}}, "some_future_field": {"x": 1},
}
INFO_KEYS = {"prompt", "all_prompts", "negative_prompt", "seed", "all_seeds", "subseed", "width", "height",
             "sampler_name", "cfg_scale", "steps", "batch_size", "sd_model_name", "infotexts", "job_timestamp",
             "version"}


def test_txt2img_webuiapi_body_round_trip(alice: httpx.Client) -> None:
    response = alice.post("/sdapi/v1/txt2img", json=WEBUIAPI_BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"images", "parameters", "info"}
    assert len(body["images"]) == 2
    pngs = [Image.open(io.BytesIO(base64.b64decode(b, validate=True))) for b in body["images"]]
    assert all(p.format == "PNG" for p in pngs)

    params = body["parameters"]
    for key, value in WEBUIAPI_BODY.items():
        assert params[key] == value, key
    assert params["sampler_name"] is None and params["hr_checkpoint_name"] is None  # A1111 defaults filled in

    info = json.loads(body["info"])
    assert set(info) >= INFO_KEYS
    assert info["prompt"] == "a red fox" and info["negative_prompt"] == "blurry"
    assert info["all_prompts"] == ["a red fox"] * 2 and info["all_seeds"] == [77, 78] and info["seed"] == 77
    assert (info["width"], info["height"], info["steps"], info["cfg_scale"], info["batch_size"]) == (32, 32, 3, 7, 2)
    assert info["infotexts"] == [p.text["parameters"] for p in pngs]
    # The images are the task's own, at the size asked for: the model drew them at 32×32.
    task = alice.get(f"/api/v1/tasks/{info['task_id']}").json()
    for encoded, image in zip(body["images"], task["images"], strict=True):
        assert base64.b64decode(encoded) == alice.get(image["url"]).content
    assert all(p.size == (32, 32) for p in pngs)
    assert "Negative prompt: blurry" in info["infotexts"][0] and "Seed: 78" in info["infotexts"][1]
    assert info["version"].startswith("pixelforge") and len(info["job_timestamp"]) == 14
    assert {"alwayson_scripts", "some_future_field", "denoising_strength", "eta",
            "hr_upscaler"} <= set(info["ignored_fields"])
    assert "restore_faces" not in info["ignored_fields"]  # sent with A1111's default: changes nothing
    assert info["adjusted_fields"]["width"] == [36, 32]
    assert info["adjusted_fields"]["sampler_name"] == ["Euler a", "Euler"]


def test_txt2img_fields_not_sent_use_model_defaults(alice: httpx.Client) -> None:
    response = alice.post("/sdapi/v1/txt2img", json={"prompt": "tiny", "steps": 2, "force_task_id": "a1111-defaults"})
    info = json.loads(response.json()["info"])
    task = alice.get("/api/v1/tasks/a1111-defaults").json()
    assert task["params"]["width"] is None and task["params"]["cfg_scale"] is None
    assert (info["width"], info["cfg_scale"]) == (task["info"]["width"], task["info"]["cfg_scale"])
    assert response.json()["parameters"]["width"] == task["info"]["width"]  # echo says what was used
    assert info["ignored_fields"] == [] and info["task_id"] == "a1111-defaults"


def test_txt2img_send_images_false_and_model_override(alice: httpx.Client, keyed: LiveServer) -> None:
    model = keyed.runtime.settings.model
    response = alice.post(
        "/sdapi/v1/txt2img",
        json={**QUICK, "send_images": False, "override_settings": {"sd_model_checkpoint": model, "CLIP_stop": 2}},
    )
    body = response.json()
    assert response.status_code == 200 and body["images"] == []
    info = json.loads(body["info"])
    assert info["all_seeds"] and info["ignored_fields"] == ["override_settings.CLIP_stop"]


def test_txt2img_invalid_values_are_422_with_a1111_names(alice: httpx.Client) -> None:
    cases = [
        ({"steps": "many"}, ["body", "steps"]),
        ({"steps": 0}, ["body", "steps"]),
        ({"n_iter": 100}, ["body", "n_iter"]),
        ({"cfg_scale": -1}, ["body", "cfg_scale"]),
        ({"seed": 2**40}, ["body", "seed"]),
        ({"override_settings": {"sd_model_checkpoint": "no-such-model"}}, ["body", "sd_model_checkpoint"]),
        ({"override_settings": {"sd_model_checkpoint": 5}}, ["body", "sd_model_checkpoint"]),
        ({"force_task_id": "bad id with spaces"}, ["body", "force_task_id"]),
    ]
    for extra, loc in cases:
        response = alice.post("/sdapi/v1/txt2img", json={**QUICK, **extra})
        assert response.status_code == 422, extra
        assert response.json()["detail"][0]["loc"] == loc, extra
        assert response.json()["message"].startswith(".".join(loc)), extra
    assert alice.post("/sdapi/v1/txt2img", content=b"{not json", headers={"content-type": "application/json"}
                      ).status_code == 422


def test_progress_interrupt_and_skip_act_on_the_callers_own_task(keyed: LiveServer, alice: httpx.Client,
                                                                 bob: httpx.Client) -> None:
    idle = bob.get("/sdapi/v1/progress").json()
    assert idle["progress"] == 0 and idle["eta_relative"] == 0 and idle["state"]["job_count"] == 0
    assert idle["current_image"] is None and idle["textinfo"] is None
    assert set(idle["state"]) == {"skipped", "interrupted", "stopping_generation", "job", "job_count",
                                  "job_timestamp", "job_no", "sampling_step", "sampling_steps"}
    with running(keyed, alice) as task:
        mine = alice.get("/sdapi/v1/progress").json()
        assert mine["state"]["job"] == task["id"] and mine["state"]["sampling_steps"] == 150
        assert 0 < mine["progress"] < 1 and mine["state"]["job_count"] == 1
        assert isinstance(mine["textinfo"], str)
        assert bob.get("/sdapi/v1/progress").json()["state"]["job_count"] == 0  # bob sees none of it
        assert bob.post("/sdapi/v1/interrupt").json() == {"detail": "nothing of yours is running"}
        assert bob.post("/sdapi/v1/skip").json() == {"detail": "nothing of yours is running"}
        assert alice.get(f"/api/v1/tasks/{task['id']}").json()["state"] == "running"
        assert alice.post("/sdapi/v1/interrupt").json() == {}
        types = [m["event"] for m in sse_events(alice, task["id"])]
        assert types[-1] == "interrupted"


def test_internal_progress_handshake(keyed: LiveServer, alice: httpx.Client, bob: httpx.Client) -> None:
    unknown = alice.post("/internal/progress", json={"id_task": "task(txt2img-notyetknown)"}).json()
    assert unknown == {"active": False, "queued": False, "completed": False, "progress": None, "eta": None,
                       "live_preview": None, "id_live_preview": -1, "textinfo": "Waiting..."}
    with running(keyed, alice) as task:
        first = alice.post("/internal/progress", json={"id_task": task["id"], "id_live_preview": -1}).json()
        assert first["active"] is True and first["queued"] is False and first["completed"] is False
        assert 0 <= first["progress"] < 1
        assert first["live_preview"].startswith("data:image/png;base64,") and first["id_live_preview"] >= 0
        # Asking again with the id the client now shows: no image unless a newer preview exists.
        again = alice.post("/internal/progress", json={"id_task": task["id"],
                                                       "id_live_preview": first["id_live_preview"]}).json()
        assert (again["live_preview"] is None) == (again["id_live_preview"] == first["id_live_preview"])
        no_preview = alice.post("/internal/progress", json={"id_task": task["id"], "live_preview": False}).json()
        assert no_preview["live_preview"] is None
        assert bob.post("/internal/progress", json={"id_task": task["id"]}).json()["textinfo"] == "Waiting..."
        alice.post(f"/api/v1/tasks/{task['id']}/interrupt")
    done = alice.post("/internal/progress", json={"id_task": task["id"]}).json()
    assert done["completed"] is True and done["active"] is False


def test_internal_progress_queued_and_completed(alice: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/api/v1/queue/pause")
    try:
        task = submit(alice)
        queued = alice.post("/internal/progress", json={"id_task": task["id"]}).json()
        assert queued["queued"] is True and queued["active"] is False and queued["textinfo"] == "In queue: 1/1"
        pending = alice.get("/internal/pending-tasks").json()
        assert pending == {"size": 1, "tasks": [task["id"]]}
        assert admin.get("/internal/pending-tasks").json() == {"size": 1, "tasks": [task["id"]]}
    finally:
        admin.post("/api/v1/queue/resume")
    list(sse_events(alice, task["id"]))
    done = alice.post("/internal/progress", json={"id_task": task["id"]}).json()
    assert done["completed"] is True and done["progress"] == 1.0 and done["eta"] == 0


def test_pending_tasks_lists_only_the_callers_ids(alice: httpx.Client, bob: httpx.Client, paused: None) -> None:
    mine = submit(alice)
    submit(bob)
    assert alice.get("/internal/pending-tasks").json() == {"size": 2, "tasks": [mine["id"]]}


def test_options_are_per_identity(alice: httpx.Client, bob: httpx.Client, keyed: LiveServer) -> None:
    model = keyed.runtime.settings.model
    before = bob.get("/sdapi/v1/options").json()
    assert {"sd_model_checkpoint", "samples_format", "live_previews_enable"} <= set(before)
    answer = alice.post("/sdapi/v1/options", json={"sd_model_checkpoint": f"{model} [abc123]", "foo": 1})
    assert answer.status_code == 200 and answer.json() is None  # as A1111 answers
    updated = alice.get("/sdapi/v1/options").json()
    titles = [m["title"] for m in alice.get("/sdapi/v1/sd-models").json() if m["model_name"] == model]
    assert updated["sd_model_checkpoint"] == titles[0] and updated["foo"] == 1  # A1111 shows the title
    assert "foo" not in bob.get("/sdapi/v1/options").json()
    bad = alice.post("/sdapi/v1/options", json={"sd_model_checkpoint": "missing-model"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "sd_model_checkpoint"]
    assert alice.post("/sdapi/v1/options", json=[1, 2]).status_code == 422


def test_listing_routes_have_a1111_shapes(alice: httpx.Client) -> None:
    models = alice.get("/sdapi/v1/sd-models").json()
    assert models and set(models[0]) == {"title", "model_name", "hash", "sha256", "filename", "config"}
    samplers = alice.get("/sdapi/v1/samplers").json()
    assert samplers[0]["name"] == "Euler" and set(samplers[0]) == {"name", "aliases", "options"}
    schedulers = alice.get("/sdapi/v1/schedulers").json()
    assert {"name", "label"} <= set(schedulers[0])
    assert alice.get("/sdapi/v1/scripts").json() == {"txt2img": [], "img2img": []}
    assert alice.get("/sdapi/v1/loras").json() == []


def test_http_basic_auth_as_a1111_api_auth(keyed: LiveServer) -> None:
    with keyed.client(auth=("alice", KEYS["alice"])) as basic:
        assert basic.get("/sdapi/v1/progress").status_code == 200
    with keyed.client(auth=("bob", KEYS["alice"])) as wrong_name:
        refused = wrong_name.get("/sdapi/v1/progress")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    with keyed.client(headers={"Authorization": "Bearer nope"}) as wrong_key:
        assert wrong_key.get("/sdapi/v1/options").status_code == 401
    with keyed.client() as anonymous:
        assert anonymous.post("/sdapi/v1/txt2img", json=QUICK).status_code == 401



def test_sd_models_carry_the_weights_hash_and_the_titled_name_selects_the_model(alice: httpx.Client) -> None:
    models = {m["model_name"]: m for m in alice.get("/sdapi/v1/sd-models").json()}
    sprite = models["sprite"]
    assert len(sprite["sha256"]) == 64 and sprite["hash"] == sprite["sha256"][:10]
    assert sprite["title"] == f"sprite [{sprite['hash']}]"
    chosen = alice.post("/sdapi/v1/options", json={"sd_model_checkpoint": sprite["title"]})
    assert chosen.status_code == 200, chosen.text


def test_start_up_routes_answer_in_a1111_shapes(alice: httpx.Client) -> None:
    for route in ("sd-vae", "upscalers", "latent-upscale-modes", "realesrgan-models", "hypernetworks",
                  "face-restorers", "prompt-styles", "extensions"):
        response = alice.get(f"/sdapi/v1/{route}")
        assert response.status_code == 200 and response.json() == [], route
    assert alice.get("/sdapi/v1/embeddings").json() == {"loaded": {}, "skipped": {}}
    for route in ("refresh-checkpoints", "refresh-loras"):
        response = alice.post(f"/sdapi/v1/{route}")
        assert response.status_code == 200 and response.json() is None, route
    flags = alice.get("/sdapi/v1/cmd-flags").json()
    assert flags["api"] is True and not any("/" in str(value) for value in flags.values())  # no paths leak
    memory = alice.get("/sdapi/v1/memory").json()
    assert set(memory["ram"]) == {"free", "used", "total"} and 0 < memory["ram"]["used"] <= memory["ram"]["total"]
    assert "error" in memory["cuda"]


@pytest.mark.parametrize("stop", ["interrupt", "skip"])
def test_a1111_script_pattern_without_cookies_stops_and_gets_the_partial_image(open_server: LiveServer,
                                                                               stop: str) -> None:
    """One thread blocks in txt2img, another polls progress until it moves and stops the task: plain
    requests, no cookie, no header. The worker is held after a step until the stop, however fast it is."""
    url = open_server.url
    body = {"prompt": "a slow dragon", "steps": 20, "width": 32, "height": 32}
    with held_after_a_step(open_server) as hold, ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(httpx.post, f"{url}/sdapi/v1/txt2img", json=body, timeout=300)
        assert hold.reached.wait(120), "the blocking request's task never finished a step"
        progress = httpx.get(f"{url}/sdapi/v1/progress", timeout=30).json()
        assert progress["state"]["sampling_step"] >= 1 and progress["progress"] > 0
        assert progress["state"]["job"].startswith("task(txt2img-")
        expected = {} if stop == "interrupt" else None  # A1111's own answers
        assert httpx.post(f"{url}/sdapi/v1/{stop}", timeout=30).json() == expected
        response = blocked.result(timeout=300)
    assert response.status_code == 200, response.text
    info = json.loads(response.json()["info"])
    (encoded,) = response.json()["images"]  # decoded from where it stopped, as A1111 does
    assert Image.open(io.BytesIO(base64.b64decode(encoded))).size == (32, 32)
    task = httpx.get(f"{url}/api/v1/tasks/{info['task_id']}", timeout=30).json()
    assert task["state"] == ("interrupted" if stop == "interrupt" else "completed")
    assert task["images"][0]["partial"] is True
    assert task["stats"]["steps_run"] < 20
    nothing = httpx.post(f"{url}/sdapi/v1/interrupt", timeout=30).json()
    assert nothing == {"detail": "nothing of yours is running"}
    assert httpx.post(f"{url}/sdapi/v1/skip", timeout=30).json() == nothing
