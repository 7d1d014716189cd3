"""img2img and inpainting tasks in the engine, on the tiny Qwen-Image pipeline and the sprite model: the
sibling pipelines share the loaded modules, only the steps the strength leaves run and are reported,
the known pixels stay, strength 0 returns the input, and a stop or skip lands mid-img2img as in txt2img."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelforge.backends.base import InitInput, JobRequest
from pixelforge.runtime import Runtime
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import EventType, Img2ImgOptions, TaskParams, TaskState
from pixelforge.testing.hooks import Calls
from pixelforge.testing.images import left_half_mask, png_bytes, sprite

STEPS = 4


def _params(strength: float = 0.5, **options: Any) -> TaskParams:
    return TaskParams(prompt="a knight", steps=STEPS, width=32, height=32, seed=7, cfg_scale=1.0,
                      img2img=Img2ImgOptions(denoising_strength=strength, **options))


def _upload(mask: bool = False) -> ImageUpload:
    return ImageUpload(init_image=png_bytes(sprite()), mask=png_bytes(left_half_mask()) if mask else None)


def _image(runtime: Runtime, relative: str) -> np.ndarray:
    return np.asarray(Image.open(runtime.settings.data_dir / relative))


def _loaded(runtime: Runtime) -> Any:
    return runtime.workers[0].backend.load(runtime.settings.model, None, 1.0)


def test_the_sibling_pipelines_hold_the_very_same_modules(make_runtime) -> None:
    model = _loaded(make_runtime(start=False))
    job = JobRequest("x", "", STEPS, 1.0, 32, 32, [0], init=InitInput(sprite().convert("RGB"), 0.5))
    img2img = model.pipeline_for(job)
    inpaint = model.pipeline_for(JobRequest("x", "", STEPS, 1.0, 32, 32, [0],
                                            init=InitInput(sprite().convert("RGB"), 0.5, left_half_mask())))
    assert (type(img2img).__name__, type(inpaint).__name__) == ("QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline")
    for name, module in model.pipe.components.items():
        assert img2img.components[name] is module and inpaint.components[name] is module, name
    assert model.pipeline_for(job) is img2img  # made once


def test_img2img_runs_only_the_steps_the_strength_leaves(make_runtime) -> None:
    runtime = make_runtime(start=False)
    denoiser = Calls(_loaded(runtime).pipe.transformer)
    runtime.start()
    task = runtime.service.submit(_params(0.5), images=_upload())
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED, finished.error
    assert denoiser.count == 2  # 4 steps at strength 0.5, one forward each (CFG off)
    steps = [e.data["steps"] for e in runtime.service.store.events_since(task.id) if e.type is EventType.PROGRESS]
    assert set(steps[1:]) == {2} and finished.progress.steps == 2 and finished.stats.steps_run == 2
    assert finished.resolved.denoising_strength == 0.5
    assert "Denoising strength: 0.5" in Image.open(runtime.settings.data_dir / finished.images[0].path).text[
        "parameters"]


def test_strength_zero_returns_the_input_and_runs_no_step(make_runtime) -> None:
    runtime = make_runtime(start=False)
    denoiser = Calls(_loaded(runtime).pipe.transformer)
    runtime.start()
    task = runtime.service.submit(_params(0.0, mask_blur=0), images=_upload())
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED and denoiser.count == 0
    assert np.array_equal(_image(runtime, finished.images[0].path)[..., :3], np.asarray(sprite().convert("RGB")))


def test_latent_inpainting_keeps_the_pixels_outside_the_mask(make_runtime) -> None:
    runtime = make_runtime()
    task = runtime.service.submit(_params(1.0, mask_blur=0), images=_upload(mask=True))
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED, finished.error
    out, source = _image(runtime, finished.images[0].path), np.asarray(sprite().convert("RGB"))
    assert np.array_equal(out[:, 16:, :3], source[:, 16:])  # the overlay puts the known half back
    assert not np.array_equal(out[:, :16, :3], source[:, :16])


def test_only_masked_inpainting_pastes_back_at_the_images_own_size(make_runtime) -> None:
    runtime = make_runtime()
    big = sprite(64)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:16, 8:16] = 255
    upload = ImageUpload(init_image=png_bytes(big), mask=png_bytes(Image.fromarray(mask, "L")))
    task = runtime.service.submit(_params(1.0, mask_blur=0, inpaint_full_res=True, inpaint_full_res_padding=4),
                                  images=upload)
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED, finished.error
    out = _image(runtime, finished.images[0].path)
    assert out.shape[:2] == (64, 64)
    outside = np.ones((64, 64), bool)
    outside[8:16, 8:16] = False
    assert np.array_equal(out[outside][:, :3], np.asarray(big.convert("RGB"))[outside])


@pytest.mark.parametrize("action", ["interrupt", "skip"])
def test_a_stop_lands_mid_img2img(make_runtime, action: str) -> None:
    runtime = make_runtime(start=False)
    task_ids: list[str] = []

    def click() -> None:
        if action == "skip":
            runtime.service.skip(task_ids[0])
        else:
            runtime.service.interrupt(task_ids[0])

    denoiser = Calls(_loaded(runtime).pipe.transformer, at=1, action=click)
    runtime.start()
    params = _params(0.75).model_copy(update={"steps": 8, "batch_count": 2})
    task_ids.append(runtime.service.submit(params, images=_upload(mask=True)).id)
    finished = runtime.service.wait(task_ids[0], timeout=120)
    if action == "interrupt":
        assert finished.state is TaskState.INTERRUPTED and finished.images == []
        assert denoiser.count == 1
    else:  # the first job ends at once, the second runs its 6 steps
        assert finished.state is TaskState.COMPLETED and [i.job_no for i in finished.images] == [1]
        assert denoiser.count == 1 + 6


def test_sprite_inpainting_keeps_every_known_pixel_of_the_1x_sprite(make_runtime) -> None:
    runtime = make_runtime(model="sprite")
    task = runtime.service.submit(_params(0.8, inpainting_fill="latent_noise"), images=_upload(mask=True))
    finished = runtime.service.wait(task.id, timeout=120)
    assert finished.state is TaskState.COMPLETED, finished.error
    out, source = _image(runtime, finished.images[0].path), np.asarray(sprite())
    assert out.shape == (32, 32, 4) and finished.images[0].files.keys() == {"upscaled"}
    assert np.array_equal(out[:, 16:], source[:, 16:])
    assert not np.array_equal(out[:, :16], source[:, :16])


def test_a_kept_partial_sprite_of_an_inpainting_keeps_every_known_pixel_too(make_runtime) -> None:
    runtime = make_runtime(model="sprite", start=False)
    task_ids: list[str] = []
    Calls(_loaded(runtime).pipe.unet, at=3,  # the second step's cond pass: stop, keeping the current estimate
          action=lambda: runtime.service.interrupt(task_ids[0], keep_partial=True))
    runtime.start()
    params = _params(1.0, inpainting_fill="latent_noise").model_copy(update={"cfg_scale": 3.0})
    task_ids.append(runtime.service.submit(params, images=_upload(mask=True)).id)
    finished = runtime.service.wait(task_ids[0], timeout=120)
    assert finished.state is TaskState.INTERRUPTED and finished.images[0].partial, finished.error
    out, source = _image(runtime, finished.images[0].path), np.asarray(sprite())
    assert out.shape == (32, 32, 4)
    assert np.array_equal(out[:, 16:], source[:, 16:])  # the estimate knows nothing of the mask; the image does
