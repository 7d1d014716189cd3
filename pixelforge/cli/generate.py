"""``pixelforge generate``: through a running server when there is one, else in this process.

Both ways produce the same thing: events into one progress bar, one path per finished image on stdout (or a
JSON summary), the same file names, the same exit codes. The server path imports no torch, so it starts in a
fraction of a second; the in-process path loads the engine and the model itself (seconds).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from pixelforge.cli.client import (
    BAD_REQUEST,
    Server,
    ServerError,
    ServerUnreachable,
    default_server_url,
    find_server,
)
from pixelforge.cli.common import (
    ENGINE_OPTIONS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    runtime_for,
    settings_from,
    validation_message,
)
from pixelforge.cli.progress import ProgressBar
from pixelforge.userpath import expand_user

# How often a queued task's command asks the server whether any worker is alive to run it.
WORKER_CHECK_S = 1.0


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "image"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def output_base(image: dict[str, Any], slug: str) -> str:
    """The name of an image without its suffix: ``<prompt>-<seed>[-partial]``."""
    return f"{slug}-{image['seed']}{'-partial' if image.get('partial') else ''}"


def output_names(image: dict[str, Any], slug: str) -> tuple[str, dict[str, str]]:
    """File names of an image (a stored ``ImageRef``, with data-directory paths) and of its other outputs, by
    kind: ``<prompt>-<seed>[-partial].png`` and the same stem with each output's suffix (``@8x.png``, ``.gpl``...)."""
    stem = Path(image["path"]).stem
    base = output_base(image, slug)
    others = {kind: f"{base}{Path(path).name.removeprefix(stem)}" for kind, path in image.get("files", {}).items()}
    return f"{base}.png", others


# The suffix of each other output, as the engine names it (the upscaled copy's factor is read from the PNG).
OUTPUT_SUFFIXES = {"raw": "-raw.png", "gpl": ".gpl", "hex": ".hex", "manifest": ".json"}


def remote_suffix(kind: str, data: bytes, width: int) -> str:
    """The file suffix of an output the server sent (the API gives URLs, not file names), the same one the
    in-process path copies: ``@<k>x.png`` for the upscaled copy (k from the PNG's own width)."""
    if kind == "upscaled" and data[:8] == b"\x89PNG\r\n\x1a\n" and width > 0:
        return f"@{int.from_bytes(data[16:20], 'big') // width}x.png"
    return OUTPUT_SUFFIXES.get(kind, f"-{kind}")


def _local_path(value: str | None) -> str | None:
    """A file or directory named on this machine, made absolute so that a server with another working
    directory finds it; names (a preset, a palette name) stay as they are."""
    if value is None:
        return None
    path = expand_user(value)
    return str(path.resolve()) if path.exists() else value


def params_body(args: argparse.Namespace) -> dict[str, Any]:
    """The task's parameters as the native API takes them (TaskParams' fields); unset ones are left out."""
    if args.forever and args.batch_count != 1:
        raise UsageError("--forever and --batch-count do not go together (--forever is --batch-count 0)")
    body: dict[str, Any] = {
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        "steps": args.steps,
        "cfg_scale": args.cfg_scale,
        "width": args.width,
        "height": args.height,
        "seed": args.seed,
        "batch_count": 0 if args.forever else args.batch_count,
        "batch_size": args.batch_size,
        "model": _local_path(args.model),
        "lora": _local_path(args.lora),
        "lora_scale": args.lora_scale,
        "timeout_s": args.timeout,
    }
    if args.strength is not None:
        body["img2img"] = {"denoising_strength": args.strength}
    if args.no_pixel:
        body["pixel"] = {"enabled": False}
    elif any(value is not None for value in (args.palette, args.colors, args.pixel_pitch)):  # 0 is refused, not unset
        pixel = {"palette": _local_path(args.palette), "colors": args.colors, "pitch": args.pixel_pitch}
        body["pixel"] = {key: value for key, value in pixel.items() if value is not None}
    return {key: value for key, value in body.items() if value is not None}


# The command-line flag of each API field params_body fills, for errors that name the field (server or engine).
FIELD_FLAGS = {
    "negative_prompt": "--negative-prompt", "steps": "--steps", "cfg_scale": "--cfg-scale", "width": "--width",
    "height": "--height", "seed": "--seed", "batch_count": "--batch-count", "batch_size": "--batch-size",
    "model": "--model", "lora": "--lora", "lora_scale": "--lora-scale", "timeout_s": "--timeout",
    "img2img.denoising_strength": "--strength", "img2img": "--strength", "init_image": "--init-image",
    "mask": "--mask", "pixel.palette": "--palette", "pixel.colors": "--colors", "pixel.pitch": "--pixel-pitch",
    "pixel": "--palette/--colors/--pixel-pitch",
}
# Names a server confines to its own folders; in this process any path is read.
CONFINED = ("unknown model '", "unknown LoRA '", "unknown palette '")


def in_flags(message: str, from_server: bool = False) -> str:
    """An error about the task in the terms of this command: ``img2img.denoising_strength: …`` reads
    ``--strength: …``; a name a server would not reach gets the way round it."""
    parts = []
    for part in message.split("; "):
        field, sep, rest = part.partition(": ")
        if field == "pixel" and rest.startswith("unknown palette"):
            field = "pixel.palette"
        parts.append(f"{FIELD_FLAGS[field]}: {rest}" if sep and field in FIELD_FLAGS else part)
    said = "; ".join(parts)
    if from_server and any(confined in said for confined in CONFINED):
        said += " (--local runs the task in this process, which reads any path)"
    return said


def read_inputs(args: argparse.Namespace) -> dict[str, bytes]:
    """The bytes of ``--init-image`` and ``--mask`` under the API's names (the server or the engine checks
    what they hold); ``--strength`` and ``--mask`` without ``--init-image`` are usage errors."""
    if args.init_image is None:
        for flag, value in (("--strength", args.strength), ("--mask", args.mask)):
            if value is not None:
                raise UsageError(f"{flag} needs --init-image")
        return {}
    inputs = {}
    for field, path in (("init_image", args.init_image), ("mask", args.mask)):
        if path is not None:
            try:
                inputs[field] = expand_user(path).read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read --{field.replace('_', '-')} {path}: {exc.strerror}") from exc
    return inputs


class Session(Protocol):
    """One submitted task, wherever it runs."""

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]: ...
    def interrupt(self, when: str = "now") -> None: ...
    def has_live_worker(self) -> bool: ...
    def save(self, image: dict[str, Any]) -> Path: ...
    def final(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class RemoteSession:
    """The task on a pixelforge server, over its native API."""

    def __init__(self, server: Server, body: dict[str, Any], out_dir: Path, inputs: dict[str, bytes],
                 callback_url: str | None = None) -> None:
        self.server = server
        self.out_dir = out_dir
        self.slug = _slug(body["prompt"])
        encoded = {field: base64.b64encode(data).decode() for field, data in inputs.items()}
        notice = {"callback_url": callback_url} if callback_url else {}
        self.task = server.json("POST", "/api/v1/tasks", {**body, **encoded, **notice})
        self.path = f"/api/v1/tasks/{urllib.parse.quote(self.task['id'], safe='')}"

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return self.server.events(self.task["id"])

    def interrupt(self, when: str = "now") -> None:
        self.server.request("POST", f"{self.path}/interrupt", {"keep_partial": False, "when": when})

    def has_live_worker(self) -> bool:
        return self.server.has_live_worker()

    def save(self, image: dict[str, Any]) -> Path:
        """``image``: the API's view of the image (an ``image`` event's data): its ``url`` and its other
        outputs' URLs in ``files``."""
        base = output_base(image, self.slug)
        target = self.out_dir / f"{base}.png"
        target.write_bytes(self.server.request("GET", image["url"]))
        for kind, url in image.get("files", {}).items():
            data = self.server.request("GET", url)
            (self.out_dir / f"{base}{remote_suffix(kind, data, image['width'])}").write_bytes(data)
        return target

    def final(self) -> dict[str, Any]:
        # The terminal event carried the finished task already; one GET keeps this independent of it.
        task = self.server.json("GET", self.path)
        return {key: task.get(key) for key in ("id", "state", "stop_reason", "error", "params", "info", "stats")}

    def close(self) -> None:
        """Nothing to release: the task and its files stay on the server."""


class LocalSession:
    """The task on an engine in this process, with its data in a temporary directory."""

    def __init__(
        self, args: argparse.Namespace, body: dict[str, Any], out_dir: Path, inputs: dict[str, bytes]
    ) -> None:
        from pydantic import ValidationError

        from pixelforge.tasks.input_images import ImageUpload
        from pixelforge.tasks.model import TaskParams
        from pixelforge.tasks.service import InvalidTask

        try:
            params = TaskParams(**body)
        except ValidationError as exc:
            raise UsageError(in_flags(validation_message(exc))) from exc
        self.out_dir = out_dir
        self.slug = _slug(params.prompt)
        self.work_dir = tempfile.TemporaryDirectory(prefix="pixelforge-")
        self.settings = settings_from(args, data_dir=Path(self.work_dir.name))
        try:
            self.runtime = runtime_for(self.settings)
        except UsageError:
            self.work_dir.cleanup()
            raise
        try:
            self.task = self.runtime.service.submit(params, images=ImageUpload(**inputs) if inputs else None)
        except InvalidTask as exc:
            self.close()
            raise UsageError(in_flags(str(exc))) from exc
        self.runtime.start()

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for event in self.runtime.service.events(self.task.id):
            yield event.type.value, event.data.stored()  # the JSON the server's stream carries too

    def interrupt(self, when: str = "now") -> None:
        self.runtime.service.interrupt(self.task.id, when="after_job" if when == "after_job" else "now")

    def has_live_worker(self) -> bool:
        return True  # its worker is in this process, started with the session

    def save(self, image: dict[str, Any]) -> Path:
        name, others = output_names(image, self.slug)
        target = self.out_dir / name
        shutil.copyfile(self.settings.data_dir / image["path"], target)
        for kind, other in others.items():
            shutil.copyfile(self.settings.data_dir / image["files"][kind], self.out_dir / other)
        return target

    def final(self) -> dict[str, Any]:
        final = self.runtime.service.get(self.task.id)
        task = {**final.model_dump(mode="json"), "info": final.info_view()}
        return {key: task.get(key) for key in ("id", "state", "stop_reason", "error", "params", "info", "stats")}

    def close(self) -> None:
        self.runtime.stop()
        self.work_dir.cleanup()


def _open_session(
    args: argparse.Namespace, body: dict[str, Any], out_dir: Path, inputs: dict[str, bytes]
) -> Session:
    engine_options = [name for name in ENGINE_OPTIONS if getattr(args, name, None) not in (None, False)]
    if args.local or engine_options:
        if args.server:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in engine_options) or "--local"
            raise UsageError(f"{flags} configure an engine in this process; they do not go with --server")
        return _local(args, body, out_dir, inputs)
    server = find_server(args.server)
    if server is None:
        if os.environ.get("PIXELFORGE_SERVER", "").lower() != "none":  # unless the user said never to look
            print(f"pixelforge: no server at {default_server_url()}; running here (the task's history goes with "
                  "this command; `pixelforge serve` keeps it)", file=sys.stderr)
        return _local(args, body, out_dir, inputs)
    try:
        return RemoteSession(server, body, out_dir, inputs, args.callback_url)
    except ServerError as exc:
        if exc.status in BAD_REQUEST:
            raise UsageError(in_flags(str(exc), from_server=True)) from exc
        raise


def _local(args: argparse.Namespace, body: dict[str, Any], out_dir: Path, inputs: dict[str, bytes]) -> LocalSession:
    if args.callback_url:
        raise UsageError("--callback-url needs a server: `pixelforge serve` sends the notice, a run here cannot")
    return LocalSession(args, body, out_dir, inputs)


def cmd_generate(args: argparse.Namespace) -> int:
    # --timeout bounds the whole command, time in the queue and loading the engine included.
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    inputs = read_inputs(args)
    bar = ProgressBar(enabled=sys.stderr.isatty() and not args.quiet)
    try:
        session = _open_session(args, params_body(args), out_dir, inputs)
    except (ServerError, ServerUnreachable) as exc:
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return _watch(session, bar, args, deadline)
    except (ServerError, ServerUnreachable) as exc:
        bar.finish("lost the server")
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        session.close()


def _watch(session: Session, bar: ProgressBar, args: argparse.Namespace, deadline: float | None) -> int:
    """Follow the task to its end: the bar, the paths, the summary, the exit code. At ``deadline`` (monotonic)
    the task is stopped, queued or not; while it waits with no live worker, that is said once."""
    written: list[Path] = []
    interrupted_by_user = threading.Event()
    timed_out = threading.Event()
    left_queue = threading.Event()  # set when the task starts or ends: no more waiting to report
    # With --stop-after-image the first Ctrl+C waits for the image being made; the next stops at once.
    stops = ["after_job", "now"] if args.stop_after_image else ["now"]

    def on_ctrl_c(_signum: int, _frame: object) -> None:
        if not stops:
            os._exit(EXIT_INTERRUPTED)  # Ctrl+C once more: leave at once
        when = stops.pop(0)
        interrupted_by_user.set()
        if when == "after_job":
            bar.message("Stopping after this image… (Ctrl+C again to stop now)")
        else:
            bar.message("Interrupting… (Ctrl+C again to quit at once)")
        # Off the signal handler: it may have interrupted the main thread inside the store or a socket read.
        threading.Thread(target=request_stop, args=(when,), daemon=True).start()

    def request_stop(when: str) -> None:
        try:
            session.interrupt(when)
        except (ServerError, ServerUnreachable) as exc:  # in a thread, it would end as a traceback
            bar.message(f"pixelforge: the interrupt did not reach the server: {exc}")

    def on_deadline() -> None:
        timed_out.set()
        request_stop("now")

    def report_no_worker() -> None:
        while not left_queue.wait(WORKER_CHECK_S):
            if not session.has_live_worker():
                bar.message("pixelforge: waiting for a worker… (none is alive to run the task; Ctrl+C or "
                            "--timeout stops waiting)")
                return

    previous_handler = signal.signal(signal.SIGINT, on_ctrl_c)
    timer = None if deadline is None else threading.Timer(max(0.0, deadline - time.monotonic()), on_deadline)
    if timer is not None:
        timer.daemon = True
        timer.start()
    threading.Thread(target=report_no_worker, daemon=True).start()
    try:
        for kind, data in session.events():
            if kind not in ("queued", "preview") and not (kind == "progress" and data.get("phase") == "queued"):
                left_queue.set()
            if kind == "queued":
                bar.update({"phase": "queued", "progress": 0.0, **data})
            elif kind == "progress":
                bar.update(data)
            elif kind == "image":
                target = session.save(data)
                written.append(target)
                if not args.json:
                    bar.above(lambda path=target: print(path, flush=True))
        final = session.final()
    finally:
        left_queue.set()
        if timer is not None:
            timer.cancel()
        signal.signal(signal.SIGINT, previous_handler)
    state = final["state"]
    bar.finish("done" if state == "completed" else state, 1.0 if state == "completed" else None)
    if args.json:
        print(json.dumps({"task_id": final["id"], **{k: v for k, v in final.items() if k != "id"},
                          "images": [str(p) for p in written]}, indent=2))
    if state == "failed":
        print(f"pixelforge: generation failed: {final['error']}", file=sys.stderr)
        return EXIT_FAILED
    if state in ("interrupted", "cancelled") and timed_out.is_set():
        if not args.json:
            print(f"pixelforge: --timeout {args.timeout:g} s passed: {state}; kept {_plural(len(written), 'image')}",
                  file=sys.stderr)
        return EXIT_FAILED
    if state in ("interrupted", "cancelled"):
        if not args.json:
            reason = final["stop_reason"] or "user"
            print(f"pixelforge: {state} ({reason}); kept {_plural(len(written), 'image')}", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted_by_user.is_set() else EXIT_FAILED
    return EXIT_OK
