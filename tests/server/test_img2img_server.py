"""img2img and inpainting against a real server (the sprite model): the native API with base64 JSON and
multipart uploads, A1111's /sdapi/v1/img2img, stops mid-img2img, and bad images refused with nothing stored."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serverkit import QUICK, running, wait_finished

from pixelforge.testing.images import huge_header_png, left_half_mask, png_bytes, sprite, truncated_png
from pixelforge.testing.live_server import LiveServer

SPRITE, MASK = png_bytes(sprite()), png_bytes(left_half_mask())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pixels(data: bytes, side: int = 32) -> np.ndarray:
    """A returned image at the sprite's own grid (an upscaled copy is read back one pixel per block)."""
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    factor = image.shape[1] // side
    return image[::factor, ::factor]


def stored_inputs(live: LiveServer) -> set[Path]:
    folder = live.runtime.settings.images_dir / "inputs"
    return set(folder.iterdir()) if folder.is_dir() else set()


def test_json_inpainting_keeps_the_known_pixels_and_the_inputs_are_the_owners(
    alice: httpx.Client, bob: httpx.Client
) -> None:
    response = alice.post("/api/v1/tasks", json={**QUICK, "init_image": b64(SPRITE), "mask": b64(MASK),
                                                 "img2img": {"denoising_strength": 0.5}})
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["type"] == "img2img" and task["id"].startswith("task(img2img-")
    assert task["params"]["img2img"]["denoising_strength"] == 0.5
    done = wait_finished(alice, task["id"])
    assert done["state"] == "completed", done["error"]
    assert done["info"]["denoising_strength"] == 0.5 and done["progress"]["steps"] == 2  # of 3, at 0.5
    out = pixels(alice.get(done["images"][0]["url"]).content)
    assert np.array_equal(out[:, 16:], np.asarray(sprite())[:, 16:])
    for url, sent in ((done["inputs"]["init_image_url"], SPRITE), (done["inputs"]["mask_url"], MASK)):
        got = alice.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(got.content)).tobytes() == Image.open(io.BytesIO(sent)).tobytes()
        assert bob.get(url).status_code == 404  # isolation as for every other file of a task
    assert bob.get(f"/api/v1/tasks/{task['id']}").status_code == 404


def test_multipart_upload_at_strength_zero_returns_the_input(alice: httpx.Client) -> None:
    params = {**QUICK, "img2img": {"denoising_strength": 0.0}}
    response = alice.post("/api/v1/tasks/upload", files={"init_image": ("s.png", SPRITE, "image/png")},
                          data={"params": json.dumps(params)})
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["inputs"]["mask_url"] is None
    done = wait_finished(alice, task["id"])
    assert done["state"] == "completed" and done["stats"]["steps_run"] == 0
    assert np.array_equal(pixels(alice.get(done["images"][0]["url"]).content), np.asarray(sprite()))


BAD = [
    ({"init_image": b"not an image"}, "init_image: is not an image"),
    ({"init_image": truncated_png()}, "init_image: is truncated or corrupt"),
    ({"init_image": huge_header_png()}, "init_image: .*has too many pixels"),
    ({"init_image": SPRITE, "mask": png_bytes(left_half_mask(16, 16))}, "mask: is 16×16; the init image is 32×32"),
]


@pytest.mark.parametrize(("files", "message"), BAD)
def test_bad_images_are_refused_with_a_message_and_nothing_is_stored(
    keyed: LiveServer, alice: httpx.Client, files: dict[str, bytes], message: str
) -> None:
    before_tasks, before_files = alice.get("/api/v1/tasks").json()["total"], stored_inputs(keyed)
    as_json = alice.post("/api/v1/tasks", json={**QUICK, **{k: b64(v) for k, v in files.items()}})
    as_files = alice.post("/api/v1/tasks/upload", files={k: (f"{k}.png", v, "image/png") for k, v in files.items()})
    a1111 = alice.post("/sdapi/v1/img2img", json={"prompt": "x", "init_images": [b64(files["init_image"])],
                                                  **({"mask": b64(files["mask"])} if "mask" in files else {})})
    for response in (as_json, as_files, a1111):
        assert response.status_code == 422, response.text
        assert response.json()["message"]
    assert re.search(message, as_json.json()["message"]) and re.search(message, as_files.json()["message"])
    assert re.search(message.replace("init_image:", "init_images:"), a1111.json()["message"])
    assert alice.get("/api/v1/tasks").json()["total"] == before_tasks and stored_inputs(keyed) == before_files


def test_malformed_submissions_are_422_with_a_message(alice: httpx.Client) -> None:
    not_base64 = alice.post("/api/v1/tasks", json={**QUICK, "init_image": "%%%"})
    assert not_base64.status_code == 422 and "init_image: is not valid base64" in not_base64.json()["message"]
    mask_alone = alice.post("/api/v1/tasks", json={**QUICK, "mask": b64(MASK)})
    assert mask_alone.status_code == 422 and "mask: a mask needs an init image" in mask_alone.json()["message"]
    options_alone = alice.post("/api/v1/tasks", json={**QUICK, "img2img": {"denoising_strength": 0.5}})
    assert options_alone.status_code == 422 and "need an init image" in options_alone.json()["message"]
    bad_params = alice.post("/api/v1/tasks/upload", files={"init_image": ("s.png", SPRITE, "image/png")},
                            data={"params": '{"steps": 0}'})
    assert bad_params.status_code == 422 and "params.steps" in bad_params.json()["message"]
    no_file = alice.post("/api/v1/tasks/upload", data={"params": "{}"})
    assert no_file.status_code == 422 and "init_image" in no_file.json()["message"]
    strength = alice.post("/sdapi/v1/img2img", json={"init_images": [b64(SPRITE)], "denoising_strength": 2})
    assert strength.status_code == 422 and "denoising_strength" in strength.json()["message"]


def test_interrupt_mid_img2img_keeps_the_partial_image(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice, init_image=b64(SPRITE), mask=b64(MASK), img2img={"denoising_strength": 1.0}) as task:
        progress = alice.get("/sdapi/v1/progress").json()
        assert progress["state"]["job"] == task["id"] and task["id"].startswith("task(img2img-")
        assert progress["state"]["sampling_steps"] == 150 and 0 < progress["progress"] < 1
        assert alice.post(f"/api/v1/tasks/{task['id']}/interrupt", json={"keep_partial": True}).status_code == 200
        done = wait_finished(alice, task["id"])
    assert done["state"] == "interrupted" and [i["partial"] for i in done["images"]] == [True]


def test_skip_mid_img2img_runs_the_next_job(keyed: LiveServer, alice: httpx.Client) -> None:
    with running(keyed, alice, batch_count=2, init_image=b64(SPRITE), img2img={"denoising_strength": 0.5}) as task:
        assert alice.get("/sdapi/v1/progress").json()["state"]["sampling_steps"] == 75  # 150 × 0.5
        assert alice.post(f"/api/v1/tasks/{task['id']}/skip").status_code == 200
        done = wait_finished(alice, task["id"])
    assert done["state"] == "completed" and [i["job_no"] for i in done["images"]] == [1]


# What webuiapi 0.9.17's img2img() sends with its defaults (and a mask), besides the images.
WEBUIAPI_IMG2IMG = {
    "prompt": "a red fox", "negative_prompt": "", "styles": [], "seed": 5, "subseed": -1, "subseed_strength": 0,
    "seed_resize_from_h": 0, "seed_resize_from_w": 0, "batch_size": 1, "n_iter": 1, "steps": 3, "cfg_scale": 7.0,
    "width": 32, "height": 32, "restore_faces": False, "tiling": False, "do_not_save_samples": False,
    "do_not_save_grid": False, "eta": 1.0, "s_churn": 0, "s_tmax": 0, "s_tmin": 0, "s_noise": 1,
    "override_settings": {}, "override_settings_restore_afterwards": True, "sampler_index": "Euler a",
    "include_init_images": False, "script_name": None, "script_args": [], "send_images": True, "save_images": False,
    "alwayson_scripts": {}, "resize_mode": 0, "denoising_strength": 0.6, "mask_blur": 4, "inpainting_fill": 1,
    "inpaint_full_res": True, "inpaint_full_res_padding": 0, "inpainting_mask_invert": 0,
    "initial_noise_multiplier": 1,
}


def test_a1111_img2img_with_a_mask_answers_in_a1111s_shape(alice: httpx.Client) -> None:
    body = {**WEBUIAPI_IMG2IMG, "init_images": [f"data:image/png;base64,{b64(SPRITE)}"], "mask": b64(MASK)}
    response = alice.post("/sdapi/v1/img2img", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"images", "parameters", "info"} and len(answer["images"]) == 1
    assert answer["parameters"]["init_images"] is None and answer["parameters"]["mask"] is None
    assert answer["parameters"]["denoising_strength"] == 0.6 and answer["parameters"]["image_cfg_scale"] is None
    info = json.loads(answer["info"])
    assert info["denoising_strength"] == 0.6 and info["task_id"].startswith("task(img2img-")
    assert "Denoising strength: 0.6" in info["infotexts"][0]
    assert {"eta", "initial_noise_multiplier"} <= set(info["ignored_fields"])
    assert not set(info["ignored_fields"]) & {"mask_blur", "inpainting_fill", "init_images", "resize_mode"}
    out = pixels(base64.b64decode(answer["images"][0]))
    assert np.array_equal(out[:, 16:], np.asarray(sprite())[:, 16:])
    task = alice.get(f"/api/v1/tasks/{info['task_id']}").json()
    assert task["params"]["img2img"] == {
        "denoising_strength": 0.6, "resize_mode": "just_resize", "mask_blur": 4, "inpaint_full_res": True,
        "inpaint_full_res_padding": 0, "inpainting_mask_invert": False, "inpainting_fill": "original"}
