"""The webuiapi client (0.9.17) as its users drive it, against a real server: start-up, listings, options,
txt2img and img2img with a mask at its default 512×512, progress, interrupt and skip (both keep the partial
image)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest
import webuiapi
from PIL import Image
from serverkit import KEYS, held_after_a_step

from pixelforge.testing.images import left_half_mask, sprite
from pixelforge.testing.live_server import LiveServer


def client(live: LiveServer, **auth: str) -> webuiapi.WebUIApi:
    """A client as a script makes one: host and port, no cookie (its constructor probes /scripts)."""
    address = urlsplit(live.url)
    return webuiapi.WebUIApi(host=address.hostname, port=address.port, **auth)


@pytest.fixture
def api(open_server: LiveServer) -> Iterator[webuiapi.WebUIApi]:
    """webuiapi on the sprite model, chosen the way its users choose one; the choice is undone afterwards
    (the server's anonymous identity is shared by every test that sends none)."""
    api = client(open_server)
    api.util_set_model("sprite")
    yield api
    api.set_options({"sd_model_checkpoint": None})


def is_scaled_sprite(image: Image.Image, side: int = 32) -> bool:
    """Whether ``image`` is a ``side``×``side`` sprite scaled up by nearest neighbour (crisp, not noise)."""
    sprite = image.resize((side, side), Image.Resampling.NEAREST)
    return sprite.resize(image.size, Image.Resampling.NEAREST).tobytes() == image.tobytes()


def test_start_up_listings_and_options(api: webuiapi.WebUIApi) -> None:
    assert api.has_controlnet is False  # read from /scripts by the constructor
    titles = api.util_get_model_names()
    sprite = next(title for title in titles if title.startswith("sprite ["))
    assert api.util_get_current_model() == sprite
    assert {m["title"] for m in api.get_sd_models()} == set(titles)
    assert sprite.endswith("]") and len(sprite) == len("sprite [") + 10 + 1  # A1111's short hash
    assert api.util_get_sampler_names() == ["Euler"] and api.util_get_scheduler_names() == ["automatic"]
    for listing in (api.get_sd_vae, api.get_upscalers, api.get_latent_upscale_modes, api.get_realesrgan_models,
                    api.get_hypernetworks, api.get_face_restorers, api.get_prompt_styles, api.get_loras):
        assert listing() == [], listing.__name__
    assert api.get_embeddings() == {"loaded": {}, "skipped": {}}
    assert api.get_cmd_flags()["api"] is True and "ram" in api.get_memory()
    assert api.refresh_checkpoints() is None
    assert api.set_options({"samples_format": "png", "webuiapi_test": 1}) is None  # A1111 answers null
    assert api.get_options()["webuiapi_test"] == 1
    api.set_options({"webuiapi_test": None})
    idle = api.get_progress()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
    api.util_wait_for_ready()  # returns at once when idle


def test_txt2img_at_the_default_size_gives_a_scaled_sprite(api: webuiapi.WebUIApi) -> None:
    result = api.txt2img(prompt="a red apple", seed=7, steps=4)  # width and height: webuiapi's 512×512
    assert result.image.size == (512, 512) and is_scaled_sprite(result.image)
    assert result.parameters["width"] == 512 and result.info["width"] == 32
    assert result.info["adjusted_fields"]["width"] == [512, 32]
    assert result.info["all_seeds"] == [7] and "Seed: 7" in result.image.info["parameters"]


def test_img2img_with_a_mask_at_the_default_size_keeps_the_known_pixels(api: webuiapi.WebUIApi) -> None:
    source = sprite()  # 32×32 RGBA; the mask repaints its left half
    result = api.img2img(images=[source], mask_image=left_half_mask(), denoising_strength=0.6, inpainting_fill=1,
                         prompt="a red fox", seed=5, steps=4)
    assert result.image.size == (512, 512) and is_scaled_sprite(result.image)
    drawn = np.asarray(result.image.convert("RGBA").resize((32, 32), Image.Resampling.NEAREST))
    assert np.array_equal(drawn[:, 16:], np.asarray(source)[:, 16:])
    assert result.info["denoising_strength"] == 0.6 and result.info["task_id"].startswith("task(img2img-")
    assert result.info["adjusted_fields"]["width"] == [512, 32]


def test_http_basic_auth_client_on_a_keyed_server(keyed: LiveServer) -> None:
    api = client(keyed, username="alice", password=KEYS["alice"])
    result = api.txt2img(prompt="a coin", steps=2, width=64, height=64,
                         override_settings={"sd_model_checkpoint": "sprite"})
    assert result.image.size == (64, 64) and is_scaled_sprite(result.image)


@pytest.mark.parametrize("stop", ["interrupt", "skip"])
def test_interrupt_and_skip_from_another_thread_keep_the_partial_image(open_server: LiveServer,
                                                                      api: webuiapi.WebUIApi, stop: str) -> None:
    watcher = client(open_server)  # a second client, as a second thread of a script makes one
    with held_after_a_step(open_server) as hold, ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(api.txt2img, prompt="a slow dragon", steps=20)
        assert hold.reached.wait(120), "the txt2img task never finished a step"
        progress = watcher.get_progress()
        assert progress["state"]["sampling_step"] >= 1 and 0 < progress["progress"] < 1
        assert getattr(watcher, stop)() == ({} if stop == "interrupt" else None)
        result = blocked.result(timeout=300)
    assert result.image.size == (512, 512) and is_scaled_sprite(result.image)  # where it stopped
    assert result.info["state"] == ("interrupted" if stop == "interrupt" else "completed")
    assert watcher.get_progress()["state"]["job_count"] == 0
