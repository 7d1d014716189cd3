"""The queue vocabulary in the Python API (issue 29): forever, stop after this image, retry, cancel my queue."""

from __future__ import annotations

from pathlib import Path

from pixelforge import Pixelforge
from pixelforge.engine.control import StepInfo
from pixelforge.tasks.model import TaskState


def test_forever_stopped_after_an_image_then_retried_then_cancelled(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    handles = []

    def stop_in_the_second_image(info: StepInfo) -> None:
        if info.job_no == 1 and info.step == 1:
            handles[0].stop_after_image()

    with Pixelforge(model=str(tiny_qwen_dir), data_dir=tmp_path / "api", preview_every=0) as pf:
        handles.append(pf.submit("a slime", steps=2, width=32, height=32, batch_count=0,
                                 on_step=stop_in_the_second_image))
        stopped = handles[0].wait(timeout=120)
        assert stopped.state is TaskState.INTERRUPTED and [i.job_no for i in stopped.images] == [0, 1]
        again = handles[0].retry()
        assert again.task.origin.retried_from == handles[0].id and again.task.params.batch_count == 0
        assert again.task.params.seed != stopped.params.seed  # it was random: a new one
        images = again.events()
        assert next(e for e in images if e.type.value == "image")  # it runs, and would forever
        assert pf.cancel_queue(running_too=True) == [again.id]
        assert again.wait(timeout=120).state is TaskState.INTERRUPTED
        assert pf.queue() == []
