"""The real Qwen-Image-2512 + Pixel-Art LoRA preset. Needs a CUDA GPU with ~40 GB and the weights in the
local Hugging Face cache; deselected everywhere else (run with ``pytest -m gpu``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelforge.tasks.model import EventType, TaskParams, TaskState

pytestmark = pytest.mark.gpu


def test_qwen_image_preset_generates_true_pixel_art_and_stops(make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime(model="qwen-image", data_dir=tmp_path / "data", device="cuda")
    service = runtime.service
    done = service.wait(service.submit(TaskParams(prompt="a knight with a sword", steps=8, seed=1)).id)
    assert done.state is TaskState.COMPLETED, done.error
    assert done.resolved is not None and done.resolved.prompt_used.startswith("Pixel Art")
    assert done.stats is not None and done.stats.peak_vram_allocated_mb
    image = done.images[0]
    assert image.width < 1328 and {"raw", "upscaled", "gpl", "hex", "manifest"} <= set(image.files)

    task = service.submit(TaskParams(prompt="a castle", steps=50, seed=2))
    for event in service.events(task.id, timeout=600):
        if event.type is EventType.PROGRESS and event.data["step"] == 3:
            service.interrupt(task.id)
    stopped = service.get(task.id)
    assert stopped.state is TaskState.INTERRUPTED and stopped.images == []
