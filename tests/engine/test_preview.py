"""Live previews: the x0 estimate, linear latent maps per family, ids in order, nothing stale after an image."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline
from PIL import Image

from pixelforge.backends.adapters import FluxModel, adapter_for, latent_rgb_maps, linear_latent_preview
from pixelforge.backends.base import JobRequest
from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.backends.families import family_of
from pixelforge.backends.x0 import X0Tracker
from pixelforge.config import Settings
from pixelforge.engine.preview import PreviewEncoder, encode_image
from pixelforge.tasks.model import EventType, TaskParams, TaskState


def _distance(a: Image.Image, b: Image.Image) -> float:
    to_tensor = lambda image: torch.tensor(list(image.getdata()), dtype=torch.float32)  # noqa: E731
    return float((to_tensor(a) - to_tensor(b)).abs().mean())


def test_preview_of_the_x0_estimate_is_closer_to_the_final_image_than_the_noisy_latent() -> None:
    """Flow matching with the exact velocity of a known image: x0 is that image at every step."""
    torch.manual_seed(0)
    rgb_map = latent_rgb_maps()["qwen-image"]
    final = torch.randn(1, 16, 12, 12)
    noise = torch.randn_like(final)
    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.set_timesteps(8)
    tracker = X0Tracker(scheduler)
    sample = noise.clone()
    final_preview = linear_latent_preview(final[0], rgb_map["factors"], rgb_map["bias"])
    for t in scheduler.timesteps[:-1]:
        velocity = noise - final  # what a perfect flow-matching model predicts
        sample = scheduler.step(velocity, t, sample, return_dict=False)[0]
        assert torch.allclose(tracker.latest, final, atol=1e-4)
        x0_preview = linear_latent_preview(tracker.latest[0], rgb_map["factors"], rgb_map["bias"])
        noisy_preview = linear_latent_preview(sample[0], rgb_map["factors"], rgb_map["bias"])
        assert _distance(x0_preview, final_preview) < _distance(noisy_preview, final_preview)
    tracker.remove()
    assert "step" not in scheduler.__dict__  # the class method is back


def test_latent_maps_cover_each_family_with_the_right_shapes() -> None:
    maps = latent_rgb_maps()
    expected = {"qwen-image": 16, "sd1": 4, "sdxl": 4, "flux": 16}
    for name, channels in expected.items():
        entry = maps[name]
        assert entry["channels"] == channels
        assert len(entry["factors"]) == channels and all(len(row) == 3 for row in entry["factors"])
        assert entry["bias"] is None or len(entry["bias"]) == 3
        assert entry["space"]  # which latent space the map applies to is written down
    assert family_of("StableDiffusionPipeline").latent_map == "sd1"
    assert family_of("StableDiffusionXLPipeline").latent_map == "sdxl"
    assert family_of("FluxPipeline").latent_map == "flux"
    assert family_of("QwenImagePipeline").latent_map == "qwen-image"
    assert family_of("StableDiffusion3Pipeline").latent_map is None  # a different latent space: decode instead


def _fake_pipe(class_name: str, latent_channels: int, **attributes: Any) -> Any:
    """A pipeline whose VAE has only a config: any decode would fail."""

    def __call__(self: Any, prompt: str, guidance_scale: float = 5.0) -> None: ...

    vae = SimpleNamespace(config=SimpleNamespace(latent_channels=latent_channels))
    return type(class_name, (), {"__call__": __call__, "vae": vae, **attributes})()


@pytest.mark.parametrize("class_name", ["StableDiffusionPipeline", "StableDiffusionXLPipeline"])
def test_sd_previews_use_the_linear_map_without_the_vae(class_name: str) -> None:
    model = adapter_for("m", _fake_pipe(class_name, 4), torch.device("cpu"), None)
    preview = model.preview(torch.randn(2, 4, 8, 12), 96, 64)
    assert preview is not None and preview.size == (12, 8) and preview.mode == "RGB"


def test_flux_preview_unpacks_the_packed_latents_first() -> None:
    unpack = staticmethod(FluxPipeline._unpack_latents)
    pipe = _fake_pipe("FluxPipeline", 16, _unpack_latents=unpack, vae_scale_factor=8)
    model = adapter_for("m", pipe, torch.device("cpu"), None)
    assert isinstance(model, FluxModel)
    packed = torch.randn(1, (64 // 16) * (96 // 16), 64)  # 96×64 image: 2×2 patches of a 12×8 latent
    preview = model.preview(packed, 96, 64)
    assert preview is not None and preview.size == (12, 8)


def test_a_latent_space_without_a_published_map_gets_a_fitted_one(tiny_qwen_dir: Path, monkeypatch) -> None:
    """The tiny pipeline's 4-channel VAE has no published map: one is fitted at load, then used."""
    model = DiffusersBackend(Settings(device="cpu")).load(str(tiny_qwen_dir), None, 1.0)
    assert model.rgb_map is not None and model.rgb_map["channels"] == 4
    job = JobRequest("a knight", "", 4, 1.0, 64, 64, [5])
    with torch.inference_mode():
        latents = model.pipe(**(model.pipeline_kwargs(job) | {"output_type": "latent"})).images
        decoded = model.decode(latents, 64, 64)[0]
    monkeypatch.setattr(model.pipe.vae, "decode", lambda *a, **k: pytest.fail("a preview ran the VAE"))
    preview = model.preview(latents, 64, 64)
    reference = np.asarray(decoded.resize(preview.size, Image.Resampling.BOX), dtype=np.float64)
    correlation = np.corrcoef(reference.ravel(), np.asarray(preview, dtype=np.float64).ravel())[0, 1]
    assert correlation > 0.6  # a rough picture of the same image, not noise


@pytest.mark.parametrize(
    ("fmt", "media_type", "magic"),
    [("png", "image/png", b"\x89PNG"), ("jpeg", "image/jpeg", b"\xff\xd8"), ("webp", "image/webp", b"RIFF")],
)
def test_preview_formats(fmt: str, media_type: str, magic: bytes) -> None:
    data, media = encode_image(Image.new("RGB", (8, 8), (200, 10, 10)), fmt)
    assert media == media_type and data.startswith(magic)


def test_cancel_pending_drops_a_preview_that_is_still_rendering() -> None:
    encoder = PreviewEncoder(min_interval_s=0)
    rendering, release = threading.Event(), threading.Event()
    published: list[str] = []

    def slow_render() -> Image.Image:
        rendering.set()
        release.wait(5)
        return Image.new("RGB", (2, 2))

    encoder.submit(slow_render, lambda _: published.append("stale"))
    assert rendering.wait(5)
    encoder.submit(lambda: Image.new("RGB", (2, 2)), lambda _: published.append("queued"))
    encoder.cancel_pending()  # the job ended: neither may be published any more
    release.set()
    encoder.submit(lambda: Image.new("RGB", (2, 2)), lambda _: published.append("next job"))
    encoder.close()  # after the previews queued before it
    assert published == ["next job"]


def test_previews_are_rate_limited_but_a_new_job_gets_one_at_once() -> None:
    encoder = PreviewEncoder(min_interval_s=60)
    image = Image.new("RGB", (2, 2))
    assert encoder.submit(lambda: image, lambda _: None)
    assert not encoder.submit(lambda: image, lambda _: None)  # too soon after the last one
    encoder.cancel_pending()  # a job ended
    assert encoder.submit(lambda: image, lambda _: None)
    encoder.close()


def test_previews_have_increasing_ids_and_none_follows_its_jobs_image(make_runtime) -> None:
    runtime = make_runtime(preview_every=1)
    task = runtime.service.submit(TaskParams(prompt="a knight", steps=30, width=32, height=32, seed=3, batch_count=2))
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED
    events = list(runtime.store.events_since(task.id, 0))
    preview_ids = [event.data["id"] for event in events if event.type is EventType.PREVIEW]
    assert preview_ids and preview_ids == sorted(set(preview_ids))
    # After a job's image only the next job's previews may come: the step of the last progress event
    # before each preview must not be the final step of a job whose image was already published.
    step = 0
    images_seen = 0
    for event in events:
        if event.type is EventType.PROGRESS:
            step, job_no = event.data["step"], event.data["job_no"]
        elif event.type is EventType.IMAGE:
            images_seen += 1
        elif event.type is EventType.PREVIEW:
            assert job_no >= images_seen, "a preview of a finished job was published after its image"
            assert step >= 1
    stored = runtime.store.get_preview(task.id)
    assert stored is not None and stored[0] == preview_ids[-1]
