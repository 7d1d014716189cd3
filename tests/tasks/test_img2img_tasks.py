"""img2img tasks in the domain: their kind and id, their stored inputs, and images refused before storing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.files import InputFolder, task_files
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import Img2ImgOptions, TaskLimits, TaskParams
from pixelforge.tasks.progress import steps_that_run
from pixelforge.tasks.service import InvalidTask, TaskService
from pixelforge.tasks.store import TaskExists
from pixelforge.testing.images import huge_header_png, left_half_mask, png_bytes, sprite, truncated_png


@pytest.fixture
def service(tmp_path: Path) -> TaskService:
    return TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(),
                       inputs=InputFolder(tmp_path, tmp_path / "images" / "inputs"))


def stored_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "images").rglob("*") if p.is_file())


def test_an_img2img_task_stores_its_images_as_files(service: TaskService, tmp_path: Path) -> None:
    upload = ImageUpload(init_image=png_bytes(sprite()), mask=png_bytes(left_half_mask()))
    task = service.submit(TaskParams(prompt="apple", img2img=Img2ImgOptions(denoising_strength=0.5)), images=upload)
    assert task.type == "img2img" and task.id.startswith("task(img2img-")
    stored = service.get(task.id)
    assert stored.inputs == task.inputs and stored.params.img2img.denoising_strength == 0.5
    init, mask = (Image.open(tmp_path / relative) for relative in stored.inputs.files())
    assert init.mode == "RGBA" and init.tobytes() == sprite().tobytes()  # alpha kept, pixels exact
    assert mask.mode == "L" and mask.tobytes() == left_half_mask().tobytes()
    assert set(stored.inputs.files()) <= set(task_files(stored))  # pruned and swept as the task's own
    assert not any(str(task.id) in event.model_dump_json() and "base64" in event.model_dump_json()
                   for event in service.store.events_since(task.id))


def test_an_init_image_alone_gets_the_default_options(service: TaskService) -> None:
    task = service.submit(TaskParams(prompt="apple"), images=ImageUpload(init_image=png_bytes(sprite().convert("RGB"))))
    assert task.params.img2img == Img2ImgOptions() and task.inputs.mask is None


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), TaskLimits(max_input_pixels=1000),
                          inputs=InputFolder(tmp_path, tmp_path / "images" / "inputs"))
    with pytest.raises(InvalidTask, match="init_image: is 40×40: has too many pixels"):
        service.submit(TaskParams(), images=ImageUpload(init_image=huge_header_png(40, 40)))
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (ImageUpload(init_image=b"not an image at all"), "init_image: is not an image"),
        (ImageUpload(init_image=b""), "init_image: is empty"),
        (ImageUpload(init_image=truncated_png()), "init_image: is truncated or corrupt"),
        (ImageUpload(init_image=huge_header_png()), "init_image: .*has too many pixels"),
        (ImageUpload(init_image=png_bytes(sprite()), mask=png_bytes(left_half_mask(16, 16))),
         "mask: is 16×16; the init image is 32×32"),
        (ImageUpload(init_image=png_bytes(sprite()), mask=b"GIF89a broken"), "mask: is not an image"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_stored(
    service: TaskService, tmp_path: Path, upload: ImageUpload, message: str
) -> None:
    with pytest.raises(InvalidTask, match=message):
        service.submit(TaskParams(prompt="apple"), images=upload)
    assert service.store.count() == 0 and stored_files(tmp_path) == []


def test_a_refused_task_leaves_no_files_and_never_touches_another_tasks(service: TaskService, tmp_path: Path) -> None:
    upload = ImageUpload(init_image=png_bytes(sprite()))
    first = service.submit(TaskParams(), images=upload, task_id="mine")
    before = {p: p.read_bytes() for p in stored_files(tmp_path)}
    with pytest.raises(TaskExists):
        service.submit(TaskParams(), images=ImageUpload(init_image=png_bytes(sprite(seed=1))), task_id="mine")
    assert {p: p.read_bytes() for p in stored_files(tmp_path)} == before
    assert service.get(first.id).inputs == first.inputs


def test_img2img_options_without_an_image_are_refused(service: TaskService) -> None:
    with pytest.raises(InvalidTask, match="img2img: img2img options need an init image"):
        service.submit(TaskParams(img2img=Img2ImgOptions()))


def test_only_the_steps_the_strength_leaves_run() -> None:
    assert [steps_that_run(20, s) for s in (None, 1.0, 0.75, 0.5, 0.33, 0.0)] == [20, 20, 15, 10, 7, 0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        steps_that_run(20, 1.5)
