"""The diffusers contract the engine relies on, checked on a tiny random SpritePipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from pixelforge.backends.adapters import adapter_for
from pixelforge.backends.sprite import SpritePipeline
from pixelforge.backends.sprite.pipeline import DEFAULT_MAX_COLORS

STEPS = 4


def run(pipe: SpritePipeline, **kwargs):
    kwargs.setdefault("num_inference_steps", STEPS)
    kwargs.setdefault("generator", torch.Generator().manual_seed(0))
    return pipe("red apple", **kwargs)


def count_unet_calls(pipe: SpritePipeline) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    calls: list[int] = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    return calls, handle


def test_callback_runs_after_every_step_with_latents(tiny_pipe: SpritePipeline) -> None:
    seen: list[tuple[int, float, tuple]] = []

    def callback(pipe, i, t, kwargs):
        assert pipe is tiny_pipe
        seen.append((i, float(t), tuple(kwargs["latents"].shape)))
        return kwargs

    run(tiny_pipe, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["latents"])
    assert [i for i, _, _ in seen] == list(range(STEPS))
    assert [t for _, t, _ in seen] == sorted((t for _, t, _ in seen), reverse=True)
    assert {shape for _, _, shape in seen} == {(1, 4, 32, 32)}
    assert tiny_pipe.num_timesteps == STEPS


def test_latents_returned_by_the_callback_are_used(tiny_pipe: SpritePipeline) -> None:
    def callback(pipe, i, t, kwargs):
        return {"latents": torch.full_like(kwargs["latents"], 0.5)} if i == STEPS - 1 else kwargs

    out = run(tiny_pipe, callback_on_step_end=callback, output_type="latent")
    assert torch.equal(out.images, torch.full((1, 4, 32, 32), 0.5))


def test_interrupt_from_the_callback_stops_the_denoiser_and_resets_next_call(tiny_pipe: SpritePipeline) -> None:
    calls, handle = count_unet_calls(tiny_pipe)
    try:
        def stop_after_two(pipe, i, t, kwargs):
            if i == 1:
                pipe._interrupt = True
            return kwargs

        run(tiny_pipe, callback_on_step_end=stop_after_two)
        assert len(calls) == 2
        calls.clear()
        run(tiny_pipe)  # a new call starts uninterrupted
        assert len(calls) == STEPS
    finally:
        handle.remove()


def test_cfg_batches_uncond_and_cond_and_guidance_one_skips_it(tiny_pipe: SpritePipeline) -> None:
    calls, handle = count_unet_calls(tiny_pipe)
    try:
        run(tiny_pipe, guidance_scale=4.0, num_images_per_prompt=3, negative_prompt="castle")
        assert calls == [6] * STEPS
        calls.clear()
        run(tiny_pipe, guidance_scale=1.0, num_images_per_prompt=3)
        assert calls == [3] * STEPS
    finally:
        handle.remove()


def assert_sprite_pixels(rgba: np.ndarray) -> None:
    """uint8 (..., 4): binary alpha and (0, 0, 0, 0) wherever transparent."""
    assert set(np.unique(rgba[..., 3])) <= {0, 255}
    assert not rgba[rgba[..., 3] == 0].any()


def test_output_types(tiny_pipe: SpritePipeline) -> None:
    pil = run(tiny_pipe, num_images_per_prompt=2).images
    assert len(pil) == 2 and all(isinstance(im, PIL.Image.Image) for im in pil)
    assert {(im.mode, im.size) for im in pil} == {("RGBA", (32, 32))}
    for im in pil:
        assert_sprite_pixels(np.asarray(im))

    (single,) = run(tiny_pipe).images
    arr = run(tiny_pipe, output_type="np").images
    assert arr.shape == (1, 32, 32, 4) and arr.dtype == np.float32 and arr.min() >= 0 and arr.max() <= 1
    assert np.array_equal((arr[0] * 255).round().astype(np.uint8), np.asarray(single))

    pt = run(tiny_pipe, output_type="pt").images
    assert pt.shape == (1, 4, 32, 32) and torch.allclose(pt.permute(0, 2, 3, 1), torch.from_numpy(arr))

    latent = run(tiny_pipe, output_type="latent").images
    assert latent.shape == (1, 4, 32, 32)
    limited = tiny_pipe.latents_to_images(latent, max_colors=DEFAULT_MAX_COLORS)[0]
    assert np.array_equal(np.asarray(limited), np.asarray(single))

    (tuple_images,) = run(tiny_pipe, output_type="np", return_dict=False)
    assert np.array_equal(tuple_images, arr)
    with pytest.raises(ValueError, match="output_type"):
        run(tiny_pipe, output_type="jpeg")


def test_latents_to_images_binarises_alpha_and_clears_transparent_pixels(tiny_pipe: SpritePipeline) -> None:
    latents = torch.empty(1, 4, 32, 32)
    latents[:, :3] = 0.7
    latents[:, 3, :16] = -0.9  # transparent top half
    latents[:, 3, 16:] = 3.0  # out of range: clamped to opaque
    (image,) = tiny_pipe.latents_to_images(latents)
    rgba = np.asarray(image)
    assert image.mode == "RGBA" and image.size == (32, 32)
    assert not rgba[:16].any()
    assert (rgba[16:, :, 3] == 255).all() and (rgba[16:, :, :3] == round(1.7 * 127.5)).all()


def test_generator_list_gives_each_image_its_own_seed(tiny_pipe: SpritePipeline) -> None:
    seeds = [11, 12, 13]
    batch = tiny_pipe("castle", num_images_per_prompt=3, num_inference_steps=STEPS, output_type="latent",
                      generator=[torch.Generator().manual_seed(s) for s in seeds]).images
    for i, seed in enumerate(seeds):
        single = tiny_pipe("castle", num_inference_steps=STEPS, output_type="latent",
                           generator=torch.Generator().manual_seed(seed)).images
        # Batched and single convolutions may sum in another order: equal up to float rounding.
        torch.testing.assert_close(batch[i : i + 1], single, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(batch[0], batch[1])


def test_same_seed_same_image_and_explicit_latents(tiny_pipe: SpritePipeline) -> None:
    a = run(tiny_pipe, output_type="np").images
    b = run(tiny_pipe, output_type="np").images
    assert np.array_equal(a, b)
    start = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    c = tiny_pipe("red apple", num_inference_steps=STEPS, latents=start, output_type="np").images
    assert np.array_equal(a, c)


def test_rejects_sizes_the_unet_cannot_halve(tiny_pipe: SpritePipeline) -> None:
    with pytest.raises(ValueError, match="multiples"):
        run(tiny_pipe, height=30, width=32)
    assert run(tiny_pipe, height=16, width=48).images[0].size == (48, 16)


def test_save_and_load_round_trip_offline(tiny_pipe: SpritePipeline, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["text_encoder"] == ["pixelforge.backends.sprite.text_encoder", "SpriteTextEncoder"]
    assert index["tokenizer"] == ["pixelforge.backends.sprite.tokenizer", "SpriteTokenizer"]
    assert (tmp_path / "tokenizer" / "vocab.json").is_file()

    loaded = SpritePipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.unet.dtype == torch.float32
    assert loaded.tokenizer.get_vocab() == tiny_pipe.tokenizer.get_vocab()
    assert np.array_equal(run(loaded, output_type="np").images, run(tiny_pipe, output_type="np").images)


def test_x0_estimate_from_scheduler_step_is_the_preview_and_the_final_image(tiny_pipe: SpritePipeline) -> None:
    """The engine's preview formula, x0 = sample - sigma * v with the arguments of scheduler.step."""
    estimates: list[torch.Tensor] = []
    step = tiny_pipe.scheduler.step

    def observed_step(model_output, timestep, sample, **kwargs):
        sigma = tiny_pipe.scheduler.sigmas[tiny_pipe.scheduler.step_index or 0]
        estimates.append(sample - sigma * model_output)
        return step(model_output, timestep, sample, **kwargs)

    tiny_pipe.scheduler.step = observed_step
    try:
        final = run(tiny_pipe, output_type="latent").images
    finally:
        del tiny_pipe.scheduler.step
    assert len(estimates) == STEPS
    torch.testing.assert_close(estimates[-1], final)  # the last step lands on its own x0 estimate
    assert len(tiny_pipe.latents_to_images(estimates[0])) == 1


def test_final_sprites_have_at_most_max_colors_deterministically(tiny_pipe: SpritePipeline) -> None:
    def draw(max_colors: int | None) -> np.ndarray:
        return np.asarray(tiny_pipe("red apple", num_inference_steps=2, max_colors=max_colors,
                                    generator=torch.Generator().manual_seed(3)).images[0])

    raw, limited = draw(None), draw(4)
    opaque = raw[..., 3] == 255
    assert opaque.any() and len(np.unique(raw[opaque][:, :3], axis=0)) > 4  # the untrained model is noisy
    assert np.array_equal(limited[..., 3], raw[..., 3])  # alpha untouched
    assert len(np.unique(limited[opaque][:, :3], axis=0)) <= 4
    assert np.array_equal(draw(4), limited)
    default = np.asarray(tiny_pipe("red apple", num_inference_steps=2, generator=torch.Generator().manual_seed(3))
                         .images[0])
    assert len(np.unique(default[opaque][:, :3], axis=0)) <= 16


def test_limit_colors_leaves_sprites_within_budget_and_empty_sprites_alone() -> None:
    from pixelforge.backends.sprite.pipeline import limit_colors

    sprites = np.zeros((2, 4, 4, 4), np.uint8)
    sprites[0, :2, :, :] = (200, 10, 10, 255)
    assert np.array_equal(limit_colors(sprites, 1), sprites)


def test_a_sprite_pipeline_named_by_its_folder_draws_at_its_own_size(tiny_pipe: SpritePipeline) -> None:
    model = adapter_for("out/sprite-tiny", tiny_pipe, torch.device("cpu"), None)  # no preset: as `--model DIR`
    side = tiny_pipe.unet.config.sample_size
    assert (model.defaults().width, model.defaults().height) == (side, side)
