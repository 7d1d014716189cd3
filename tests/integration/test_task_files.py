"""The files of a task: names that no other task can share, history pruning that deletes only a
task's own files, and the start-up sweep of what a crash left behind."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pixelforge.tasks.files import file_stem
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.testing.serve_process import start_serve

REPO = Path(__file__).resolve().parents[2]

SMALL = {"width": 32, "height": 32, "steps": 1}


def _files(runtime, task_id: str) -> list[Path]:
    task = runtime.store.get(task_id)
    return [runtime.settings.data_dir / p for image in task.images for p in (image.path, *image.files.values())]


def test_ids_differing_only_in_punctuation_never_share_files(make_runtime) -> None:
    runtime = make_runtime(history_limit=4)
    service = runtime.service
    ids = [("sprite.v1", "client:alice-0001"), ("sprite:v1", "client:bob-000001"), (".", "client:alice-0001"),
           ("..", "client:bob-000001"), ("_", "local")]
    for n, (task_id, owner) in enumerate(ids):
        service.submit(TaskParams(prompt=f"prompt {n}", seed=n, **SMALL), owner=owner, task_id=task_id)
    for task_id, _ in ids:
        assert service.wait(task_id, timeout=120).state is TaskState.COMPLETED
    paths = {task_id: _files(runtime, task_id) for task_id, _ in ids[1:]}
    every = [p for files in paths.values() for p in files]
    assert len(every) == len(set(every)) and all(p.is_file() for p in every)
    for n, (task_id, _) in enumerate(ids[1:], start=1):
        with Image.open(paths[task_id][0]) as image:  # each task reads back its own image
            assert f"Seed: {n}," in image.text["parameters"]
    # history_limit=4: the first task was pruned, with its files only.
    assert all(p.is_file() for p in every)


def test_start_up_sweeps_crash_leftovers_and_keeps_every_task_file(make_runtime) -> None:
    runtime = make_runtime()
    task = runtime.service.submit(TaskParams(prompt="kept", **SMALL))
    assert runtime.service.wait(task.id, timeout=120).state is TaskState.COMPLETED
    kept = _files(runtime, task.id)
    runtime.stop()
    folder = kept[0].parent
    stem = file_stem(task.id)
    # what a kill can leave: a half-written file, and files of a known task that it never recorded
    leftovers = [folder / "half-written.tmp", folder / f"{stem}-001.png", folder / f"{stem}-001@16x.png",
                 folder / "older" / f"{stem}-sheet.png"]
    leftovers[3].parent.mkdir()
    for leftover in leftovers:
        leftover.write_bytes(b"\x89PNG")
    # files of no task this store knows (another database's, a copy the operator made) are never the sweep's
    unknown = [folder / "orphan-000.png", folder / "older" / "orphan.png", folder / f"{stem}x-000.png"]
    for other in unknown:
        other.write_bytes(b"\x89PNG")
    elsewhere = runtime.settings.data_dir / "not-images.png"
    elsewhere.write_bytes(b"x")

    make_runtime()
    assert not any(p.exists() for p in leftovers)
    assert all(p.is_file() for p in [*kept, *unknown, elsewhere])


@pytest.mark.parametrize("database", ["moved away", "an empty file"])
def test_a_start_over_a_missing_or_empty_database_keeps_every_image(
    make_runtime, tmp_path: Path, database: str
) -> None:
    runtime = make_runtime()
    task = runtime.service.submit(TaskParams(prompt="kept", **SMALL))
    assert runtime.service.wait(task.id, timeout=120).state is TaskState.COMPLETED
    kept = _files(runtime, task.id)
    runtime.stop()
    data_dir = runtime.settings.data_dir
    half_written = kept[0].parent / "half-written.png.tmp"
    half_written.write_bytes(b"\x89PNG")
    database_file = data_dir / "tasks.sqlite3"
    for extra in data_dir.glob("tasks.sqlite3-*"):  # the WAL's files go with it
        extra.unlink()
    if database == "moved away":
        database_file.rename(tmp_path / "moved.sqlite3")
    else:
        database_file.write_bytes(b"")

    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    server = start_serve(data_dir, "--model", str(runtime.settings.model), env=env, log=log)
    try:
        assert httpx.get(f"{server.url}/api/v1/health", timeout=10).status_code == 200
    finally:
        server.stop()
    assert kept and all(p.is_file() for p in kept)
    assert not half_written.exists()
    said = log.read_text()
    assert "removed 1 files a crash left behind" in said and "half-written.png.tmp" in said
