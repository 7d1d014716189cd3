"""A task that fails says so in its progress text, wherever it failed (here: while loading)."""

from __future__ import annotations

from pathlib import Path

from pixelforge.tasks.model import TaskParams, TaskState


def test_a_task_that_fails_while_loading_does_not_keep_loading_model(make_runtime, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt-pipeline"
    corrupt.mkdir()
    (corrupt / "model_index.json").write_text('{"_class_name": "NoSuchPipeline"}')
    runtime = make_runtime()
    task = runtime.service.submit(TaskParams(prompt="x", model=str(corrupt), steps=1, width=32, height=32))
    failed = runtime.service.wait(task.id, timeout=120)
    assert failed.state is TaskState.FAILED and failed.error
    assert failed.progress.textinfo == f"Failed: {failed.error}"
    assert failed.progress.eta_s is None
    # The next task runs.
    ok = runtime.service.submit(TaskParams(prompt="y", steps=1, width=32, height=32))
    assert runtime.service.wait(ok.id, timeout=120).state is TaskState.COMPLETED
