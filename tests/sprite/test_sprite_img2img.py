"""img2img (SDEdit) and RePaint-style inpainting in the sprite pipeline: what runs, what is kept."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from pixelforge.backends.sprite import SpritePipeline

STEPS = 4


def sprite_image(seed: int = 0) -> PIL.Image.Image:
    """A 32×32 RGBA input with many colours and a transparent border."""
    rng = np.random.default_rng(seed)
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[4:28, 4:28, :3] = rng.integers(0, 256, (24, 24, 3))
    rgba[4:28, 4:28, 3] = 255
    return PIL.Image.fromarray(rgba, "RGBA")


def left_half_mask() -> PIL.Image.Image:
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :16] = 255
    return PIL.Image.fromarray(mask, "L")


def run(pipe: SpritePipeline, **kwargs) -> np.ndarray:
    kwargs.setdefault("num_inference_steps", STEPS)
    kwargs.setdefault("generator", torch.Generator().manual_seed(0))
    return np.asarray(pipe("red apple", **kwargs).images[0])


def test_strength_zero_returns_the_input_unchanged(tiny_pipe: SpritePipeline) -> None:
    image = sprite_image()
    assert np.array_equal(run(tiny_pipe, image=image, strength=0.0), np.asarray(image))


def test_strength_one_is_text_to_image_from_the_same_noise(tiny_pipe: SpritePipeline) -> None:
    assert np.array_equal(run(tiny_pipe, image=sprite_image(), strength=1.0), run(tiny_pipe))


def test_only_the_steps_left_by_the_strength_run_and_are_reported(tiny_pipe: SpritePipeline) -> None:
    steps: list[int] = []

    def on_step(pipe, i, t, kwargs):
        steps.append(i)
        return kwargs

    out = run(tiny_pipe, image=sprite_image(), strength=0.5, callback_on_step_end=on_step)
    assert steps == [0, 1] and tiny_pipe.num_timesteps == 2
    assert SpritePipeline.first_step(20, 0.75) == 5 and SpritePipeline.first_step(20, 0.33) == 13
    assert out.shape == (32, 32, 4)
    low, high = run(tiny_pipe, image=sprite_image(), strength=0.25), run(tiny_pipe, image=sprite_image(), strength=1)
    source = np.asarray(sprite_image()).astype(int)
    assert np.abs(low.astype(int) - source).mean() < np.abs(high.astype(int) - source).mean()


def test_inpainting_keeps_every_pixel_outside_the_mask_exactly(tiny_pipe: SpritePipeline) -> None:
    image = sprite_image()
    out = run(tiny_pipe, image=image, mask_image=left_half_mask(), strength=1.0)
    source = np.asarray(image)
    assert np.array_equal(out[:, 16:], source[:, 16:])  # the known right half, even beyond 16 colours
    assert not np.array_equal(out[:, :16], source[:, :16])  # the masked half was repainted
    repainted = out[:, :16][out[:, :16, 3] == 255][:, :3]
    assert len(np.unique(repainted, axis=0)) <= 16
    assert set(np.unique(out[..., 3])) <= {0, 255}


def test_a_batch_uses_the_init_image_for_every_sprite(tiny_pipe: SpritePipeline) -> None:
    images = tiny_pipe("red apple", image=sprite_image(), strength=0.0, num_images_per_prompt=2,
                       num_inference_steps=STEPS).images
    assert all(np.array_equal(np.asarray(im), np.asarray(sprite_image())) for im in images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mask_image": left_half_mask()}, "needs an image"),
        ({"image": sprite_image(), "strength": 1.5}, "strength must be between 0 and 1"),
        ({"image": sprite_image().resize((16, 16)), "width": 32, "height": 32}, "resize it first"),
        ({"image": sprite_image(), "mask_image": left_half_mask().resize((16, 16))}, "mask_image is 16×16"),
        ({"image": [sprite_image()] * 3, "num_images_per_prompt": 2}, "one per prompt"),
    ],
)
def test_bad_inputs_are_clear_errors(tiny_pipe: SpritePipeline, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_pipe("red apple", num_inference_steps=STEPS, **kwargs)
