"""The Python API for scripts: the same engine, queue and stop control as the server, in-process.

    from pixelforge import Pixelforge, StopToken

    with Pixelforge() as pf:
        for image in pf.generate_iter("a knight with a sword", batch_count=4):
            print(image.path)
        # img2img and inpainting: an init image (a PIL image, a path or encoded bytes), a strength, a mask.
        pf.generate("a knight with a golden sword", init_image="knight.png", strength=0.6, mask="sword.png")
        # Generate forever (batch_count=0) until stopped after the image that is being made.
        forever = pf.submit("a slime", batch_count=0)
        forever.stop_after_image()
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pixelforge.config import Settings
from pixelforge.engine.control import EarlyStopRule, StepInfo
from pixelforge.runtime import Runtime
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    Img2ImgOptions,
    StopWhen,
    Task,
    TaskEvent,
    TaskParams,
    new_task_id,
)
from pixelforge.tasks.stop import StopToken
from pixelforge.userpath import expand_user

# An image handed to img2img: a PIL image, the path of an image file, or its encoded bytes.
ImageSource = Image.Image | str | Path | bytes
# The modes Pillow writes as PNG as they are; any other is converted first.
PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})


def encoded(image: ImageSource) -> bytes:
    """The file bytes of ``image``, for the task service to check and store like any upload."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, Image.Image):
        if image.mode not in PNG_MODES:  # CMYK, YCbCr, LAB, HSV, F: Pillow cannot write these as PNG
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    return expand_user(image).read_bytes()


@dataclass
class GeneratedImage:
    ref: ImageRef
    path: Path

    def open(self) -> Image.Image:
        return Image.open(self.path)


class TaskHandle:
    """A submitted task: watch it, stop it, collect its images."""

    def __init__(self, client: Pixelforge, task_id: str, token: StopToken) -> None:
        self._client = client
        self.id = task_id
        self.token = token

    def interrupt(self, keep_partial: bool = False, when: StopWhen = "now") -> None:
        """Stop the task now, or with ``when="after_job"`` once the running job has finished (its images are
        kept, no further job starts; a later plain interrupt still stops at once). A queued task is cancelled."""
        self._client.runtime.service.interrupt(self.id, keep_partial=keep_partial, when=when)

    def stop_after_image(self) -> None:
        """"Stop after this image": ``interrupt(when="after_job")``; ends a ``batch_count=0`` (forever) task."""
        self.interrupt(when="after_job")

    def retry(self) -> TaskHandle:
        """Run this failed, interrupted or cancelled task again as a new task (a new seed if its seed was random);
        NotRetryable (a ValueError) for any other."""
        return self._client._queue(lambda task_id: self._client.runtime.service.retry(self.id, task_id), self.task.type)

    def skip(self, keep_partial: bool = False) -> None:
        self._client.runtime.service.skip(self.id, keep_partial=keep_partial)

    def events(self, after_seq: int = 0) -> Iterator[TaskEvent]:
        return self._client.runtime.service.events(self.id, after_seq)

    def wait(self, timeout: float | None = None) -> Task:
        return self._client.runtime.service.wait(self.id, timeout)

    @property
    def task(self) -> Task:
        return self._client.runtime.service.get(self.id)

    def images(self) -> list[GeneratedImage]:
        return [self._client._image(ref) for ref in self.task.images]


class Pixelforge:
    """An in-process pixelforge: a task store under ``data_dir`` and one worker."""

    def __init__(self, model: str | None = None, data_dir: Path | str | None = None, **settings: Any) -> None:
        if model is not None:
            settings["model"] = model
        if data_dir is not None:
            settings["data_dir"] = Path(data_dir)
        self.settings = Settings(**settings)
        self.runtime = Runtime(self.settings)
        self.runtime.start()

    def close(self) -> None:
        self.runtime.stop()

    def __enter__(self) -> Pixelforge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(
        self,
        prompt: str = "",
        *,
        init_image: ImageSource | None = None,
        mask: ImageSource | None = None,
        strength: float | None = None,
        stop: StopToken | None = None,
        early_stop: EarlyStopRule | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        **params: Any,
    ) -> TaskHandle:
        """Queue a task. ``stop`` may be any StopToken (share it with another thread to stop the task);
        ``early_stop`` is called after every step and may stop the task; ``on_step`` sees every step.
        With ``init_image``, an img2img task at ``strength`` (default 0.75; the other options go in
        ``img2img=Img2ImgOptions(...)``); with ``mask`` too (white = repaint), inpainting. Malformed parameters
        raise pydantic's ValidationError; parameters over a limit, an unknown model and bad images InvalidTask
        (both ValueErrors); an image file that is not there FileNotFoundError."""
        if strength is not None:
            options = Img2ImgOptions.model_validate(params.pop("img2img", None) or {})
            params["img2img"] = Img2ImgOptions(**{**options.model_dump(), "denoising_strength": strength})
        task_params = TaskParams(prompt=prompt, **params)
        images = None
        if init_image is not None:
            images = ImageUpload(init_image=encoded(init_image), mask=encoded(mask) if mask is not None else None)
        elif mask is not None:
            raise ValueError("a mask needs an init_image")
        return self._queue(lambda task_id: self.runtime.service.submit(task_params, task_id=task_id, images=images),
                           "txt2img" if images is None else "img2img", stop, early_stop, on_step)

    def _queue(self, submit: Callable[[str], Task], task_type: str, stop: StopToken | None = None,
               early_stop: EarlyStopRule | None = None, on_step: Callable[[StepInfo], None] | None = None,
               ) -> TaskHandle:
        task_id = new_task_id(task_type)
        # Attached before submitting, so that no worker can start the task without the caller's token.
        token = self.runtime.tokens.attach(task_id, token=stop, early_stop=early_stop, on_step=on_step)
        try:
            submit(task_id)
        except BaseException:
            self.runtime.tokens.detach(task_id)
            raise
        return TaskHandle(self, task_id, token)

    def queue(self) -> list[Task]:
        """The queued tasks in the order they will run, with their places and ``starts_in_s``."""
        return [self.runtime.service.get(task_id) for task_id in self.runtime.service.queued_ids()]

    def cancel_queue(self, running_too: bool = False) -> list[str]:
        """Cancel every queued task ("cancel my queue"); with ``running_too`` the running one is interrupted as
        well. Returns the ids ended."""
        return self.runtime.service.cancel_queue(None, running_too=running_too)

    def generate(self, prompt: str = "", **kwargs: Any) -> list[GeneratedImage]:
        """Run a task to its end and return its images (a stopped task returns what it finished)."""
        handle = self.submit(prompt, **kwargs)
        handle.wait()
        return handle.images()

    def generate_iter(self, prompt: str = "", **kwargs: Any) -> Iterator[GeneratedImage]:
        """Yield each image as soon as it is finished; stops when the task ends."""
        handle = self.submit(prompt, **kwargs)
        for event in handle.events():
            if event.type is EventType.IMAGE:
                yield self._image(ImageRef.model_validate(event.data))

    def _image(self, ref: ImageRef) -> GeneratedImage:
        return GeneratedImage(ref=ref, path=self.settings.data_dir / ref.path)
