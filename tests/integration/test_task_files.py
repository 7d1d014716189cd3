"""The files of a task: names that no other task can share, history pruning that deletes only a
task's own files, and the start-up sweep of what a crash left behind."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from pixelforge.tasks.model import TaskParams, TaskState

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
    leftovers = [folder / "half-written.tmp", folder / "orphan-000.png", folder / "older" / "orphan.png"]
    leftovers[2].parent.mkdir()
    leftovers[0].write_bytes(b"")
    leftovers[1].write_bytes(kept[0].read_bytes())
    leftovers[2].write_bytes(b"\x89PNG")
    elsewhere = runtime.settings.data_dir / "not-images.png"
    elsewhere.write_bytes(b"x")

    make_runtime()
    assert not any(p.exists() for p in leftovers)
    assert all(p.is_file() for p in kept) and elsewhere.is_file()
