"""The files a task owns under the data directory: their names, the list of them, and the sweep of
what a crash left behind (only what a crash can leave: never a file of a task the store does not know).

File names come from the task id through an injective encoding, so two tasks never share a file
whatever their ids (``sprite.v1`` and ``sprite:v1``, ``.`` and ``..``), and deleting one task's
files never touches another's.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pixelforge.tasks.input_images import ImageUpload, InputImage
from pixelforge.tasks.model import Task, TaskInputs
from pixelforge.tasks.store import StoreFull, TaskStore

_ESCAPED = re.compile(r"[^A-Za-z0-9-]")
# Leaves room under the 255-byte limit of a file name for what follows the stem ("-007-pixel@16x.png").
MAX_STEM = 200
_PAGE = 500


def file_stem(task_id: str) -> str:
    """Letters, digits and '-' stay; any other character becomes ``_<hex code point>_`` (delimited,
    so the encoding decodes back: injective). An id whose encoding is too long for a file name gets
    ``~`` and its SHA-256 instead; no encoded id contains ``~``, so the two forms never meet."""
    stem = _ESCAPED.sub(lambda m: f"_{ord(m.group()):x}_", task_id)
    return stem if len(stem) <= MAX_STEM else "~" + hashlib.sha256(task_id.encode()).hexdigest()


def task_files(task: Task) -> list[str]:
    """Every file the task wrote or was given, relative to the data directory."""
    files = [relative for image in task.images for relative in (image.path, *image.files.values())]
    if task.inputs is not None:
        files += task.inputs.files()
    return [*files, task.sprite_sheet] if task.sprite_sheet else files


@dataclass(frozen=True)
class InputFolder:
    """Where submitted init images and masks are kept (a folder under the data directory, so the crash
    sweep and the history pruning treat them as the task's own files)."""

    data_dir: Path
    folder: Path

    def save(self, task_id: str, image: InputImage, mask: InputImage | None) -> TaskInputs:
        """Write the task's inputs (through a temporary file: never half a file under the real name). The names
        carry a random part: a submission refused for an id in use never touches that task's files. A full
        disk is StoreFull, with nothing left behind."""
        stem = f"{file_stem(task_id)}-{secrets.token_hex(4)}"
        written: list[str] = []
        temporary: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for kind, picture in (("init", image), ("mask", mask)):
                if picture is not None:
                    path = self.folder / f"{stem}-{kind}{picture.suffix}"
                    temporary = path.with_name(path.name + ".tmp")
                    temporary.write_bytes(picture.file)
                    temporary.replace(path)
                    written.append(str(path.relative_to(self.data_dir)))
        except BaseException as exc:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            self.remove(written)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreFull() from exc
            raise
        size = sum((self.data_dir / relative).stat().st_size for relative in written)
        return TaskInputs(init_image=written[0], mask=written[1] if mask is not None else None, bytes=size)

    def read(self, inputs: TaskInputs) -> ImageUpload:
        """A stored task's inputs as an upload again (what a retry of an img2img task submits)."""
        mask = (self.data_dir / inputs.mask).read_bytes() if inputs.mask else None
        return ImageUpload(init_image=(self.data_dir / inputs.init_image).read_bytes(), mask=mask)

    def remove(self, relative_paths: list[str]) -> None:
        for relative in relative_paths:
            (self.data_dir / relative).unlink(missing_ok=True)


def _all_tasks(store: TaskStore) -> Iterator[Task]:
    offset = 0
    while page := store.list(limit=_PAGE, offset=offset):
        yield from page
        offset += len(page)


# What follows ``<stem>-`` in the name of a file a task writes: an image (``-007``, ``-007-raw``, ``-007@16x``,
# the pixel-art stage's ``-007-palette.gpl`` ...), its sprite sheet, or an input (``-<8 hex>-init``, ``-mask``).
_TASK_FILE_REST = re.compile(r"(\d{3}|sheet|[0-9a-f]{8}-(init|mask))([-@.][^/]*)?")


def _named_after(name: str, known_stems: set[str]) -> bool:
    """Whether ``name`` is the name of a file that a task the store knows writes."""
    return any(name[:cut] in known_stems and _TASK_FILE_REST.fullmatch(name[cut + 1 :])
               for cut, char in enumerate(name) if char == "-")


def sweep_leftovers(store: TaskStore, data_dir: Path, images_dir: Path) -> list[Path]:
    """Delete what a crash can leave in ``images_dir``: half-written ``*.tmp`` files, and files named after a
    task the store knows that the task does not refer to (written before a kill, never recorded). A file of a
    task the store does not know is kept: a store that is new, emptied or restored from an older copy must never
    cost the images it does not list. Run before any worker starts; returns what went."""
    if not images_dir.is_dir():
        return []
    referenced: set[Path] = set()
    known_stems: set[str] = set()
    for task in _all_tasks(store):
        known_stems.add(file_stem(task.id))
        referenced.update(Path(os.path.abspath(data_dir / relative)) for relative in task_files(task))
    swept = []
    for path in sorted(images_dir.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".tmp" or (
            _named_after(path.name, known_stems) and Path(os.path.abspath(path)) not in referenced
        ):
            path.unlink(missing_ok=True)
            swept.append(path)
    return swept
