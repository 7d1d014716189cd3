"""The Python API for scripts: the same engine, queue and stop control as the server, in-process (or, when a
``pixelforge serve`` holds the data dir, on that server: see api_attached).

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

from pixelforge.api_attached import AttachedTasks
from pixelforge.config import Settings
from pixelforge.datadir_lock import DataDirInUse
from pixelforge.engine.control import EarlyStopRule, StepInfo
from pixelforge.runtime import Runtime
from pixelforge.tasks.events import ImagePayload, TaskEvent
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import (
    ImageRef,
    Img2ImgOptions,
    StopWhen,
    Task,
    TaskParams,
    new_task_id,
)
from pixelforge.tasks.queue_order import MoveTo
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
        self._client.tasks.interrupt(self.id, keep_partial=keep_partial, when=when)

    def stop_after_image(self) -> None:
        """"Stop after this image": ``interrupt(when="after_job")``; ends a ``batch_count=0`` (forever) task."""
        self.interrupt(when="after_job")

    def retry(self) -> TaskHandle:
        """Run this failed, interrupted or cancelled task again as a new task (a new seed if its seed was random);
        NotRetryable (a ValueError) for any other."""
        task_id, token = self._client.tasks.retry(self.id)
        return TaskHandle(self._client, task_id, token)

    def move(self, to: MoveTo) -> int:
        """Move this queued task among your queued tasks: 'front', 'up', 'down' or 'back'; returns its place in the
        queue now (1: next). A ValueError when it is not queued."""
        return self._client.tasks.move(self.id, to)

    def skip(self, keep_partial: bool = False) -> None:
        self._client.tasks.skip(self.id, keep_partial=keep_partial)

    def events(self, after_seq: int = 0) -> Iterator[TaskEvent]:
        return self._client.tasks.events(self.id, after_seq)

    def wait(self, timeout: float | None = None) -> Task:
        return self._client.tasks.wait(self.id, timeout)

    @property
    def task(self) -> Task:
        return self._client.tasks.get(self.id)

    def images(self) -> list[GeneratedImage]:
        return [self._client._image(ref) for ref in self.task.images]


class LocalTasks:
    """The task operations of the Python API on a runtime in this process (it holds the data dir)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.service = runtime.service

    def submit(
        self,
        params: TaskParams,
        images: ImageUpload | None,
        stop: StopToken | None,
        early_stop: EarlyStopRule | None,
        on_step: Callable[[StepInfo], None] | None,
    ) -> tuple[str, StopToken]:
        return self._queue(lambda task_id: self.service.submit(params, task_id=task_id, images=images),
                           "txt2img" if images is None else "img2img", stop, early_stop, on_step)

    def retry(self, task_id: str) -> tuple[str, StopToken]:
        return self._queue(lambda new_id: self.service.retry(task_id, new_id), self.service.get(task_id).type)

    def _queue(self, submit: Callable[[str], Task], task_type: str, stop: StopToken | None = None,
               early_stop: EarlyStopRule | None = None, on_step: Callable[[StepInfo], None] | None = None,
               ) -> tuple[str, StopToken]:
        task_id = new_task_id(task_type)
        # Attached before submitting, so that no worker can start the task without the caller's token.
        token = self.runtime.tokens.attach(task_id, token=stop, early_stop=early_stop, on_step=on_step)
        try:
            submit(task_id)
        except BaseException:
            self.runtime.tokens.detach(task_id)
            raise
        return task_id, token

    def interrupt(self, task_id: str, keep_partial: bool = False, when: StopWhen = "now") -> None:
        self.service.interrupt(task_id, keep_partial=keep_partial, when=when)

    def queued(self) -> list[Task]:
        return [self.service.get(task_id) for task_id in self.service.store.queued_ids()]

    def cancel_queue(self, running_too: bool = False) -> list[str]:
        return self.service.cancel_queue(None, running_too=running_too)

    def move(self, task_id: str, to: MoveTo) -> int:
        return self.service.move(task_id, to).position or 0

    def skip(self, task_id: str, keep_partial: bool = False) -> None:
        self.service.skip(task_id, keep_partial=keep_partial)

    def events(self, task_id: str, after_seq: int = 0) -> Iterator[TaskEvent]:
        return self.service.events(task_id, after_seq)

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        return self.service.wait(task_id, timeout)

    def get(self, task_id: str) -> Task:
        return self.service.get(task_id)

    def close(self) -> None:
        self.runtime.stop()


class Pixelforge:
    """A pixelforge for scripts: a task store under ``data_dir`` and one worker in this process — or, when a
    ``pixelforge serve`` holds that data dir, that server, reached over its HTTP API (``attached`` is its URL).
    A data dir that another process without a server holds is refused (DataDirInUse)."""

    def __init__(self, model: str | None = None, data_dir: Path | str | None = None, **settings: Any) -> None:
        if model is not None:
            settings["model"] = model
        if data_dir is not None:
            settings["data_dir"] = Path(data_dir)
        self.settings = Settings(**settings)
        self.attached: str | None = None
        self.runtime: Runtime | None = None  # the engine in this process; None when attached to a server
        self.tasks: LocalTasks | AttachedTasks
        try:
            runtime = Runtime(self.settings)
        except DataDirInUse as exc:
            if exc.holder is None or exc.holder.url is None:
                raise
            self.attached = exc.holder.url
            self.tasks = AttachedTasks(exc.holder.url, self.settings.data_dir)
        else:
            runtime.start()
            self.runtime = runtime
            self.tasks = LocalTasks(runtime)

    def close(self) -> None:
        self.tasks.close()

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
        ``early_stop`` is called after every step and may stop the task; ``on_step`` sees every step (both only
        with the engine in this process, not attached to a server). With ``init_image``, an img2img task at
        ``strength`` (default 0.75; the other options go in ``img2img=Img2ImgOptions(...)``); with ``mask`` too
        (white = repaint), inpainting. Malformed parameters raise pydantic's ValidationError; parameters over a
        limit, an unknown model and bad images InvalidTask (both ValueErrors); an image file that is not there
        FileNotFoundError."""
        if strength is not None:
            options = Img2ImgOptions.model_validate(params.pop("img2img", None) or {})
            params["img2img"] = Img2ImgOptions(**{**options.model_dump(), "denoising_strength": strength})
        task_params = TaskParams(prompt=prompt, **params)
        images = None
        if init_image is not None:
            images = ImageUpload(init_image=encoded(init_image), mask=encoded(mask) if mask is not None else None)
        elif mask is not None:
            raise ValueError("a mask needs an init_image")
        task_id, token = self.tasks.submit(task_params, images, stop, early_stop, on_step)
        return TaskHandle(self, task_id, token)

    def queue(self) -> list[Task]:
        """The queued tasks in the order they will run, with their places and ``starts_in_s``."""
        return self.tasks.queued()

    def cancel_queue(self, running_too: bool = False) -> list[str]:
        """Cancel every queued task ("cancel my queue"); with ``running_too`` the running one is interrupted as
        well. Returns the ids ended."""
        return self.tasks.cancel_queue(running_too=running_too)

    def generate(self, prompt: str = "", **kwargs: Any) -> list[GeneratedImage]:
        """Run a task to its end and return its images (a stopped task returns what it finished)."""
        handle = self.submit(prompt, **kwargs)
        handle.wait()
        return handle.images()

    def generate_iter(self, prompt: str = "", **kwargs: Any) -> Iterator[GeneratedImage]:
        """Yield each image as soon as it is finished; stops when the task ends."""
        handle = self.submit(prompt, **kwargs)
        for event in handle.events():
            if isinstance(event.data, ImagePayload):
                yield self._image(event.data)

    def _image(self, ref: ImageRef) -> GeneratedImage:
        return GeneratedImage(ref=ref, path=self.settings.data_dir / ref.path)
