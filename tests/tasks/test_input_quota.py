"""The bytes of input images one identity may hold (issue 25.2), through the service with real files: counted as
stored, a submission over the cap refused with nothing left behind, another identity untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.files import InputFolder
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import TaskLimits, TaskParams
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.store import QueueFull
from pixelforge.testing.images import png_bytes, sprite


def test_an_identity_over_its_input_bytes_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    folder = InputFolder(tmp_path, tmp_path / "images" / "inputs")
    upload = ImageUpload(init_image=png_bytes(sprite()))
    probe = TaskService(SQLiteTaskStore(tmp_path / "probe.sqlite3"), InProcessBus(), inputs=folder)
    one = probe.submit(TaskParams(prompt="size"), images=upload).inputs
    assert one is not None and one.bytes == sum((tmp_path / f).stat().st_size for f in one.files()) > 0
    service = TaskService(SQLiteTaskStore(tmp_path / "t.sqlite3"), InProcessBus(), inputs=folder,
                          limits=TaskLimits(max_input_bytes_per_identity=2 * one.bytes))
    for _ in range(2):
        service.submit(TaskParams(prompt="fits"), owner="alice", images=upload)
    files_before = sorted(folder.folder.iterdir())
    with pytest.raises(QueueFull, match="input images would take more than"):
        service.submit(TaskParams(prompt="one too many"), owner="alice", images=upload)
    assert sorted(folder.folder.iterdir()) == files_before  # the refused upload's files are gone
    assert service.store.count(owner="alice") == 2
    service.submit(TaskParams(prompt="bob's own room"), owner="bob", images=upload)
