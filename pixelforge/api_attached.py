"""The Python API attached to the ``pixelforge serve`` that holds its data dir, over the native HTTP API.

A second process must never open a data dir a server holds (its restart recovery would end the server's
running task), so ``Pixelforge()`` on such a data dir sends its tasks to that server instead, as the CLI does.
Tasks, events and stops go over HTTP; each finished image is downloaded once into ``<data dir>/downloads/``
(the server's own files are named by its store, which this process does not open). ``on_step`` and
``early_stop`` see the engine's tensors and so only run in the process that runs the engine: refused here.
"""

from __future__ import annotations

import base64
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pixelforge.cli.client import BAD_REQUEST, Server, ServerError
from pixelforge.tasks.events import TaskEvent
from pixelforge.tasks.files import file_stem
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    StopRequest,
    StopWhen,
    Task,
    TaskParams,
    TaskStats,
)
from pixelforge.tasks.queue_order import MoveTo
from pixelforge.tasks.stop import StopToken

# The identity of the Python API's tasks on a server without API keys.
CLIENT_ID = "pixelforge-python"


class NotOverHttp(ValueError):
    """An option that needs the engine in this process, asked of a Pixelforge attached to a server."""


class AttachedTasks:
    """The task operations the Python API needs, on the server at ``url``."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.server = Server(url.rstrip("/"), os.environ.get("PIXELFORGE_API_KEY") or None, CLIENT_ID)
        self.server.check_health()
        self.downloads = data_dir / "downloads"
        self._closed = threading.Event()

    def submit(
        self,
        params: TaskParams,
        images: ImageUpload | None,
        stop: StopToken | None,
        early_stop: Callable[..., Any] | None,
        on_step: Callable[..., Any] | None,
    ) -> tuple[str, StopToken]:
        if early_stop is not None or on_step is not None:
            raise NotOverHttp(
                f"early_stop and on_step run beside the engine, but this data dir is held by the server at "
                f"{self.server.url}: give Pixelforge another data_dir to run the engine in this process")
        body: dict[str, Any] = params.model_dump(mode="json", exclude_none=True)
        if images is not None:
            body["init_image"] = base64.b64encode(images.init_image).decode()
            if images.mask is not None:
                body["mask"] = base64.b64encode(images.mask).decode()
        try:
            task = self.server.json("POST", "/api/v1/tasks", body)
        except ServerError as exc:
            if exc.status in BAD_REQUEST:  # as InvalidTask is in process: a ValueError that says what is wrong
                raise ValueError(str(exc)) from None
            raise
        token = stop or StopToken()
        threading.Thread(target=self._forward_stop, args=(task["id"], token), daemon=True).start()
        return task["id"], token

    def _forward_stop(self, task_id: str, token: StopToken) -> None:
        """A stop requested on the caller's token (from any thread) goes to the server."""
        while not self._closed.is_set():
            if token.wait(0.5):
                request = token.pending
                if request is not None:
                    self._control(task_id, request.action, request.keep_partial)
                return

    def _path(self, task_id: str) -> str:
        return f"/api/v1/tasks/{urllib.parse.quote(task_id, safe='')}"

    def _control(self, task_id: str, action: str, keep_partial: bool, **fields: Any) -> None:
        self.server.request("POST", f"{self._path(task_id)}/{action}", {"keep_partial": keep_partial, **fields})

    def interrupt(self, task_id: str, keep_partial: bool = False, when: StopWhen = "now") -> None:
        self._control(task_id, "interrupt", keep_partial, when=when)

    def retry(self, task_id: str) -> tuple[str, StopToken]:
        try:
            task = self.server.json("POST", f"{self._path(task_id)}/retry")
        except ServerError as exc:
            if exc.status == 409:  # as NotRetryable is in process: a ValueError
                raise ValueError(str(exc)) from None
            raise
        token = StopToken()
        threading.Thread(target=self._forward_stop, args=(task["id"], token), daemon=True).start()
        return task["id"], token

    def queued(self) -> list[Task]:
        """This identity's queued tasks, in the order they will run."""
        page = self.server.json("GET", "/api/v1/tasks?state=queued&limit=200")
        tasks = [self.get(view["id"]) for view in page["tasks"]]
        return sorted(tasks, key=lambda task: task.position or 0)

    def cancel_queue(self, running_too: bool = False) -> list[str]:
        answer = self.server.json("POST", "/api/v1/queue/cancel", {"scope": "all" if running_too else "queued"})
        return list(answer["ended"])

    def move(self, task_id: str, to: MoveTo) -> int:
        try:
            return int(self.server.json("POST", f"{self._path(task_id)}/move", {"to": to})["position"])
        except ServerError as exc:
            if exc.status == 409:  # as TaskNotQueued is in process: a ValueError
                raise ValueError(str(exc)) from None
            raise

    def skip(self, task_id: str, keep_partial: bool = False) -> None:
        self._control(task_id, "skip", keep_partial)

    def events(self, task_id: str, after_seq: int = 0) -> Iterator[TaskEvent]:
        for seq, kind, data in self.server.numbered_events(task_id, after_seq):
            if kind == EventType.IMAGE.value:
                data = self._downloaded(task_id, data).model_dump()
            yield TaskEvent(task_id=task_id, seq=seq, type=EventType(kind), data=data)

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        """The task once it has ended, or as it is after ``timeout`` seconds (as the in-process wait)."""
        follower = threading.Thread(target=self._follow_to_end, args=(task_id,), daemon=True)
        follower.start()
        follower.join(timeout)
        return self.get(task_id)

    def _follow_to_end(self, task_id: str) -> None:
        for _ in self.server.events(task_id):
            pass

    def get(self, task_id: str) -> Task:
        view = self.server.json("GET", self._path(task_id))
        asked = view.get("stop_requested")
        return Task(
            **{key: view[key] for key in ("id", "type", "params", "state", "created_at", "started_at",
                                          "finished_at", "error", "stop_reason", "position", "queue_size",
                                          "starts_in_s")},
            images=[self._downloaded(task_id, image) for image in view["images"]],
            stats=TaskStats.model_validate(view["stats"]) if view.get("stats") else None,
            stop_request=StopRequest(action=asked["kind"], when=asked["when"], at=asked["at"]) if asked else None,
        )

    def _downloaded(self, task_id: str, image: dict[str, Any]) -> ImageRef:
        """The image the API describes (``ImageOut``), with its files copied here once; paths are absolute."""
        self.downloads.mkdir(parents=True, exist_ok=True)
        base = self.downloads / f"{file_stem(task_id)}-{image['index']:03d}"
        files = {}
        for kind, url in {"image": image["url"], **image.get("files", {})}.items():
            target = base.with_name(f"{base.name}.png" if kind == "image" else f"{base.name}-{kind}")
            if not target.exists():
                partial = target.with_name(f"{target.name}.tmp")
                partial.write_bytes(self.server.request("GET", url))
                partial.replace(target)  # never a half-written file under the final name
            files[kind] = str(target)
        image_path = files.pop("image")
        fields = {key: image[key] for key in ("index", "job_no", "seed", "width", "height", "partial")}
        return ImageRef(**fields, path=image_path, files=files)

    def close(self) -> None:
        self._closed.set()
