"""Image to image in the web UI: an input image picked, dropped, pasted or taken from the gallery; a mask drawn on
the model's pixel grid (the sprite model's 32×32) with the pointer and the keyboard; the task runs as img2img with
the same progress and stop controls, keeps the pixels outside the mask, and bad images are refused in the UI."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np
from browserkit import LONG, QUICK, Shots, fill_params, open_ui, task_id, wait_denoising
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from pixelforge.tasks.model import TaskState
from pixelforge.testing.images import png_bytes, sprite
from pixelforge.testing.live_server import LiveServer

SPRITE = png_bytes(sprite())


def pick(page: Page, folder: Path, data: bytes, name: str = "sprite.png") -> None:
    path = folder / name
    path.write_bytes(data)
    page.locator("#init_image").set_input_files(str(path))


def task_json(page: Page, live: LiveServer, task: str) -> dict:
    response = page.request.get(f"{live.url}/api/v1/tasks/{quote(task)}")
    assert response.ok, response.text()
    return response.json()


def image_at(page: Page, live: LiveServer, url: str) -> np.ndarray:
    """A PNG of the server (as this page's identity) as an RGBA array."""
    response = page.request.get(f"{live.url}{url}")
    assert response.ok, response.text()
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGBA"))


def wait_finished(page: Page, previous: str | None = None) -> str:
    """Until a task other than ``previous`` is attached and has ended; its id."""
    page.wait_for_function(
        """previous => {
          const task = window.pixelforge.task;
          return task && task.id !== previous && ["completed", "interrupted", "failed"].includes(task.state);
        }""",
        arg=previous,
    )
    return task_id(page)


def test_picked_image_with_a_drawn_mask_repaints_only_the_marked_cells(
    new_context: Callable[..., BrowserContext], live: LiveServer, tmp_path: Path, shots: Shots
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, QUICK)
    pick(page, tmp_path, SPRITE)
    expect(page.locator("#init-size")).to_have_text("sprite.png · 32×32")
    expect(page.locator("#init-thumb")).to_have_js_property("naturalWidth", 32)
    canvas = page.locator("#mask-canvas")
    expect(canvas).to_have_attribute("data-cols", "32")  # one mask cell per sprite pixel
    expect(canvas).to_have_attribute("data-rows", "32")
    assert canvas.evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"

    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    cell = box["width"] / 32

    def at(col: int, row: int) -> tuple[float, float]:
        return box["x"] + (col + 0.5) * cell, box["y"] + (row + 0.5) * cell

    # A drag along row 10 marks columns 3..20 (every cell on the way, however few points the drag reports).
    page.mouse.move(*at(3, 10))
    page.mouse.down()
    page.mouse.move(*at(20, 10), steps=2)
    page.mouse.up()
    expect(canvas).to_have_attribute("data-marked", "18")
    # The right button erases columns 10..12.
    page.mouse.move(*at(10, 10))
    page.mouse.down(button="right")
    page.mouse.move(*at(12, 10))
    page.mouse.up(button="right")
    expect(canvas).to_have_attribute("data-marked", "15")
    # The keyboard: the cursor is where the pointer left it (12, 10); down one, Space marks (12, 11), and
    # Shift+Right marks (13, 11) on the way.
    expect(canvas).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    page.keyboard.press("Shift+ArrowRight")
    expect(canvas).to_have_attribute("data-marked", "17")
    # Invert flips every cell (and back).
    page.locator("#mask-invert").click()
    expect(canvas).to_have_attribute("data-marked", str(32 * 32 - 17))
    page.locator("#mask-invert").click()
    expect(canvas).to_have_attribute("data-marked", "17")
    shots.take(page, "img2img", full_page=True)

    page.locator("#denoising_strength").fill("0.5")
    expect(page.locator("#denoising-value")).to_have_text("0.50")
    page.locator("#generate").click()
    task = wait_finished(page)
    assert task.startswith("task(img2img-")
    done = task_json(page, live, task)
    assert done["state"] == "completed", done["error"]
    assert done["type"] == "img2img" and done["params"]["img2img"]["denoising_strength"] == 0.5

    expected = np.zeros((32, 32), np.uint8)
    expected[10, 3:21] = 255
    expected[10, 10:13] = 0
    expected[11, 12:14] = 255
    mask = image_at(page, live, done["inputs"]["mask_url"])[..., 0]
    assert np.array_equal(mask, expected)
    sent = np.asarray(sprite())
    assert np.array_equal(image_at(page, live, done["inputs"]["init_image_url"]), sent)
    result = image_at(page, live, done["images"][0]["url"])
    keep = expected == 0
    assert np.array_equal(result[keep], sent[keep])  # outside the mask: the input's own pixels

    # The history says img2img; "Reuse" brings back the input image and its mask.
    history = page.locator(".history-item").first
    expect(history).to_contain_text("img2img")
    page.locator("#init-remove").click()
    expect(page.locator("#init-loaded")).to_be_hidden()
    expect(page.locator("#mask-editor")).to_be_hidden()
    page.locator("#denoising_strength").fill("0.9")
    history.locator(".history-reuse").click()
    expect(page.locator("#init-loaded")).to_be_visible()
    expect(canvas).to_have_attribute("data-marked", "17")
    expect(page.locator("#denoising-value")).to_have_text("0.50")


def test_img2img_shows_progress_and_stops_like_txt2img_and_bad_images_are_refused(
    new_context: Callable[..., BrowserContext], live: LiveServer, tmp_path: Path
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, LONG)

    # Not an image: the browser cannot show it, the server refuses it, the UI names the field.
    pick(page, tmp_path, b"this is not an image", name="notes.png")
    expect(page.locator("#init-size")).to_have_text(re.compile(r"^notes\.png · the browser cannot show it"))
    expect(page.locator("#mask-editor")).to_be_hidden()
    page.locator("#generate").click()
    alert = page.locator("#alert")
    expect(alert).to_have_text(re.compile(r"^Please check: Input image: is not an image"))
    expect(page.locator("#init_image")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".history-item")).to_have_count(0)  # nothing was stored

    # A real image at strength 0.5: 75 of the 150 steps run, and the bar, preview and stop work as for txt2img.
    pick(page, tmp_path, SPRITE)
    expect(page.locator("#init_image")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#denoising_strength").fill("0.5")
    page.locator("#generate").click()
    wait_denoising(page)
    assert task_id(page).startswith("task(img2img-")
    expect(page.locator("#progress-step")).to_have_text(re.compile(r"^Step \d+/75$"))
    expect(page.locator("#stage-frame img[data-kind='preview']")).to_be_visible()
    page.locator("#skip").click()
    expect(page.locator("#progress-job")).to_have_text(re.compile(r"^Job 2/16$"))
    wait_denoising(page, min_step=3)
    page.locator("#stop-keep").click()
    expect(page.locator("body")).to_have_attribute("data-last-state", "interrupted")
    assert live.runtime.service.get(task_id(page)).state is TaskState.INTERRUPTED
    expect(page.locator(".gallery-item .badge")).to_have_text("partial")


def test_use_as_input_from_the_gallery_and_the_recent_images(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    fill_params(page, QUICK)
    page.locator("#generate").click()
    first = wait_finished(page)
    made = task_json(page, live, first)["images"][0]
    made_pixels = image_at(page, live, made["url"])

    page.locator(".gallery-item .use-input").click()
    expect(page.locator("#alert")).to_have_text("Image loaded as the input image: the next task starts from it.")
    expect(page.locator("#init-size")).to_have_text(re.compile(r"· 32×32$"))
    expect(page.locator("#img2img-group")).to_have_js_property("open", True)
    page.locator("#init-remove").click()
    expect(page.locator(".recent-item")).to_have_count(1)
    page.locator(".recent-item .recent-use").click()
    expect(page.locator("#init-size")).to_have_text(re.compile(r"· 32×32$"))

    page.locator("#generate").click()
    second = wait_finished(page, first)
    assert second.startswith("task(img2img-")
    done = task_json(page, live, second)
    assert done["state"] == "completed", done["error"]
    assert done["inputs"]["mask_url"] is None  # nothing drawn: plain img2img
    assert np.array_equal(image_at(page, live, done["inputs"]["init_image_url"]), made_pixels)

    # "Reuse" of the first task, a txt2img one: the form becomes its parameters, without an input image.
    history = page.locator(".history-item")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("img2img")
    history.nth(1).locator(".history-reuse").click()
    expect(page.locator("#init-loaded")).to_be_hidden()


def test_mask_grid_of_models_without_a_native_size(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    grids = page.evaluate("""async () => {
      const { MaskGrid } = await import("./js/maskgrid.js");
      const shape = (grid) => [grid.cols, grid.rows];
      const latent = new MaskGrid(1024, 768, { native_size: null, pixel_pitch: null });
      latent.paint(1, 0, 2, 1);  // cells (1, 0) and (2, 0), (1, 1) and (2, 1): image pixels x 8..24, y 0..16
      return {
        sprite: shape(new MaskGrid(64, 48, { native_size: [32, 32] })),
        artPixel: shape(new MaskGrid(1328, 1328, { native_size: null, pixel_pitch: 16 })),
        latent: shape(latent),
        huge: shape(new MaskGrid(4096, 2048, null)),
        png: latent.toPng(),
      };
    }""")
    assert grids["sprite"] == [32, 32] and grids["artPixel"] == [83, 83]
    assert grids["latent"] == [128, 96] and grids["huge"] == [128, 64]
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(grids["png"].partition(",")[2]))).convert("L"))
    expected = np.zeros((768, 1024), np.uint8)
    expected[0:16, 8:24] = 255
    assert np.array_equal(mask, expected)


def test_drop_paste_and_chinese(new_context: Callable[..., BrowserContext], live: LiveServer) -> None:
    page = open_ui(new_context(locale="zh-CN"), live.url)
    expect(page.locator("#img2img-group summary")).to_contain_text("图生图")
    expect(page.get_by_label("输入图像", exact=True)).to_have_attribute("id", "init_image")
    expect(page.get_by_label("重绘幅度", exact=True)).to_have_attribute("id", "denoising_strength")
    keys = page.evaluate("""async () => {
      const en = (await import("./js/locales/en.js")).default;
      const zh = (await import("./js/locales/zh-CN.js")).default;
      const ours = ["img2img", "initImage", "initHint", "initRemove", "denoisingStrength", "mask", "maskDraw",
        "maskErase", "maskBrush", "maskClear", "maskInvert", "maskCanvas", "maskNote", "useAsInput",
        "useAsInputLabel", "useAsInputRecent", "inputLoaded", "errorInputLoad", "initUnreadable", "initThumb"];
      return ours.filter((key) => !(key in en) || !(key in zh) || (zh[key] === en[key] && /[A-Za-z]{2}/.test(en[key])));
    }""")
    assert keys == []

    # An image dropped on the page, then one pasted: each becomes the input image.
    data = base64.b64encode(SPRITE).decode()
    send = """([kind, name, data]) => {
      const file = new File([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], name, {type: "image/png"});
      const transfer = new DataTransfer();
      transfer.items.add(file);
      const target = document.querySelector("#prompt");
      const init = {bubbles: true, cancelable: true};
      target.dispatchEvent(kind === "drop" ? new DragEvent("drop", {...init, dataTransfer: transfer})
                                           : new ClipboardEvent("paste", {...init, clipboardData: transfer}));
    }"""
    page.evaluate(send, ["drop", "dropped.png", data])
    expect(page.locator("#init-size")).to_have_text("dropped.png · 32×32")
    expect(page.locator("#mask-note")).to_contain_text("网格 32×32")
    page.locator("#mask-canvas").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#mask-canvas")).to_have_attribute("data-marked", "1")
    page.get_by_role("button", name="清除").click()
    expect(page.locator("#mask-canvas")).to_have_attribute("data-marked", "0")
    page.evaluate(send, ["paste", "pasted.png", data])
    expect(page.locator("#init-size")).to_have_text("pasted.png · 32×32")
    expect(page.locator("#prompt")).to_have_value("")  # the paste went to the input image, not the prompt
