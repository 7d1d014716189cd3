"""img2img from a photo on the sprite model (issue 26, item 5): three photo-like JPEGs of our own (4:3, soft, grainy)
keep their layout and main colours at strength 0.3 — fitted without squashing, and brought into the sprite's
domain (the pixel-art stage's palette and background removal) before the model sees them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pixelforge.engine.init_images import fit, in_sprite_domain
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import Img2ImgOptions, ResizeMode, TaskParams, TaskState

WIDTH, HEIGHT = 640, 480


def photo(kind: str, seed: int = 0) -> bytes:
    """A 640×480 photo-like JPEG: smooth gradients, soft edges, sensor grain."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / np.array([HEIGHT, WIDTH])[:, None, None]
    aspect = WIDTH / HEIGHT
    if kind == "ball":  # a red ball on a blue-grey wall
        image = np.stack([0.2 + 0.5 * x, 0.6 + 0 * x, 0.9 - 0.3 * x], -1)
        ball = ((x - 0.5) * aspect) ** 2 + (y - 0.55) ** 2 < 0.06
        image[ball] = np.stack([0.9 * (1.6 - y), 0.1 * (1.6 - y), 0.1 * (1.6 - y)], -1)[ball] / 1.6
    elif kind == "house":  # a red house with a blue roof on a grey street
        image = np.stack([0.7 + 0 * x, 0.72 + 0 * x, 0.7 + 0.05 * y], -1)
        image[(y > 0.45) & (y < 0.9) & (x > 0.3) & (x < 0.7)] = [0.75, 0.2, 0.15]
        image[(y > 0.2) & (y <= 0.45) & (np.abs(x - 0.5) < (y - 0.2) * 0.9)] = [0.15, 0.25, 0.7]
    else:  # a sunset: orange to pink sky, a yellow sun, green ground
        sky = np.stack([0.95 - 0.3 * y, 0.5 - 0.3 * y, 0.3 + 0.4 * y], -1)
        image = np.where((y > 0.62)[..., None], np.stack([0.15 + 0 * y, 0.45 + 0 * y, 0.12 + 0 * y], -1), sky)
        image[((x - 0.7) * aspect) ** 2 + (y - 0.35) ** 2 < 0.012] = [1.0, 0.85, 0.2]
    image = image + np.random.default_rng(seed).normal(0, 0.03, image.shape)
    pixels = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    buffer = io.BytesIO()
    pixels.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _blocks(rgba: np.ndarray, opaque: np.ndarray, n: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    side = rgba.shape[0] // n
    cells = [(slice(i * side, (i + 1) * side), slice(j * side, (j + 1) * side)) for i in range(n) for j in range(n)]
    return [(rgba[rows, cols, :3][opaque[rows, cols]], opaque[rows, cols]) for rows, cols in cells]


def test_the_default_fit_crops_a_photo_instead_of_squashing_it() -> None:
    ball = Image.open(io.BytesIO(photo("ball")))
    fitted = np.asarray(fit(ball, (32, 32), Img2ImgOptions().resize_mode))
    red = (fitted[..., 0] > 120) & (fitted[..., 1] < 80)
    rows, cols = np.nonzero(red)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(width / height - 1) < 0.15, (width, height)  # round, not 4:3 squashed into an oval
    squashed = np.asarray(fit(ball, (32, 32), ResizeMode.JUST_RESIZE))
    rows, cols = np.nonzero((squashed[..., 0] > 120) & (squashed[..., 1] < 80))
    assert (np.ptp(cols) + 1) / (np.ptp(rows) + 1) < 0.85  # what the old default did


def test_a_sprite_is_left_exactly_as_it_is() -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = [200, 30, 40, 255]
    rgba[12:20, 12:20] = [250, 220, 60, 255]
    sprite = Image.fromarray(rgba, "RGBA")
    assert in_sprite_domain(sprite) is sprite
    photo_like = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8))
    assert len(set(in_sprite_domain(photo_like).getdata())) <= 17  # 16 colours and transparency at most


@pytest.mark.parametrize("kind", ["ball", "house", "sunset"])
def test_at_strength_0_3_a_photo_keeps_its_layout_and_main_colours(make_runtime, kind: str) -> None:
    runtime = make_runtime(model="sprite")
    params = TaskParams(prompt={"ball": "a red ball", "house": "a small house", "sunset": "a sunset"}[kind],
                        steps=20, seed=1, img2img=Img2ImgOptions(denoising_strength=0.3))
    task = runtime.service.submit(params, images=ImageUpload(init_image=photo(kind)))
    finished = runtime.service.wait(task.id, timeout=300)
    assert finished.state is TaskState.COMPLETED, finished.error
    out = np.asarray(Image.open(runtime.settings.data_dir / finished.images[0].path).convert("RGBA"))
    seen = np.asarray(in_sprite_domain(fit(Image.open(io.BytesIO(photo(kind))), (32, 32), params.img2img.resize_mode)))
    # Layout: the same pixels are the subject (opaque) and the background (transparent).
    seen_opaque, out_opaque = seen[..., 3] == 255, out[..., 3] == 255
    assert (seen_opaque & out_opaque).sum() / (seen_opaque | out_opaque).sum() > 0.9
    # Main colours: each 8×8 block's mean colour stays near the photo's there (no block turns another colour).
    differences = [np.abs(seen_pixels.mean(0) - out_pixels.mean(0))
                   for (seen_pixels, _), (out_pixels, _) in zip(_blocks(seen, seen_opaque), _blocks(out, out_opaque),
                                                                strict=True)
                   if len(seen_pixels) >= 16 and len(out_pixels) >= 16]
    assert np.max(differences) < 64 and np.mean(differences) < 24
