"""The engine end to end on a real (tiny, random) Qwen-Image pipeline, through the Runtime."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.engine.control import EarlyStop, StepInfo
from pixelforge.tasks.model import EventType, TaskParams, TaskState

SMALL = {"width": 32, "height": 32}


def decoder_calls(runtime) -> list[int]:
    """Count real VAE decoder forwards of the worker's pipeline."""
    pipe = runtime.workers[0].backend.load(runtime.settings.model, None, 1.0).pipe
    calls = [0]
    pipe.vae.decoder.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def run_until(service, task_id: str, predicate, action) -> None:
    """Watch the task's events and call ``action`` once, at the first event matching ``predicate``."""
    fired = False
    for event in service.events(task_id, timeout=120):
        if not fired and predicate(event):
            action()
            fired = True


def is_step(job_no: int, step: int):
    return lambda e: e.type is EventType.PROGRESS and e.data["job_no"] == job_no and e.data["step"] == step


def test_completed_task_reports_progress_images_stats_and_parameters(make_runtime) -> None:
    runtime = make_runtime()
    service = runtime.service
    task = service.submit(TaskParams(prompt="a red heart", steps=4, batch_count=2, batch_size=2, seed=10, **SMALL))
    done = service.wait(task.id, timeout=120)
    assert done.state is TaskState.COMPLETED
    assert [(i.index, i.job_no, i.seed) for i in done.images] == [(0, 0, 10), (1, 0, 11), (2, 1, 12), (3, 1, 13)]
    events = service.store.events_since(task.id)
    kinds = [e.type for e in events]
    assert kinds[:2] == [EventType.QUEUED, EventType.STARTED] and kinds[-1] is EventType.COMPLETED
    assert kinds.count(EventType.IMAGE) == 4
    steps = [(e.data["job_no"], e.data["step"]) for e in events if e.type is EventType.PROGRESS and e.data["step"]]
    assert steps == [(job, step) for job in (0, 1) for step in range(1, 5)]
    progress = [e.data["progress"] for e in events if e.type is EventType.PROGRESS]
    assert progress == sorted(progress) and max(progress) < 1.0
    assert done.progress.progress == 1.0 and done.progress.textinfo == "Done"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    stats = done.stats
    assert stats is not None and stats.steps_run == 8 and stats.peak_rss_mb and stats.peak_rss_mb > 0
    assert {"load", "encode", "denoise", "decode"} <= set(stats.phases_s)
    image_path = runtime.settings.data_dir / done.images[0].path
    with Image.open(image_path) as image:
        assert image.size == (32, 32)
        parameters = image.info["parameters"]
    assert parameters.startswith("a red heart\n")
    assert "Steps: 4, Sampler: Euler" in parameters and "Seed: 10, Size: 32x32" in parameters


def test_each_image_is_reproducible_alone_from_its_seed(make_runtime) -> None:
    runtime = make_runtime()
    service = runtime.service
    batch = service.wait(service.submit(TaskParams(prompt="x", steps=2, seed=5, batch_size=2, **SMALL)).id)
    alone = service.wait(service.submit(TaskParams(prompt="x", steps=2, seed=6, **SMALL)).id)
    data = runtime.settings.data_dir
    second = Image.open(data / batch.images[1].path).convert("RGB").tobytes()
    assert second == Image.open(data / alone.images[0].path).convert("RGB").tobytes()


def test_interrupt_stops_at_once_without_decoding_and_keeps_finished_images(make_runtime) -> None:
    runtime = make_runtime(preview_every=0)  # previews of this tiny model go through the VAE too
    decodes = decoder_calls(runtime)
    service = runtime.service
    # Many steps after the one we act on, so the stop lands in job 2 however loaded the machine is.
    task = service.submit(TaskParams(prompt="x", steps=100, batch_count=3, **SMALL))
    run_until(service, task.id, is_step(1, 3), lambda: service.interrupt(task.id))
    done = service.store.get(task.id)
    assert done.state is TaskState.INTERRUPTED and done.stop_reason == "user"
    assert [i.job_no for i in done.images] == [0]  # job 1 finished before the stop and is kept
    assert decodes[0] == 1  # only job 1's decode: the interrupted job was never decoded
    assert done.stats is not None and done.stats.steps_run < 100 + 100
    assert runtime.workers[0].backend.load(runtime.settings.model, None, 1.0).pipe._interrupt is False


def test_keep_partial_decodes_the_current_estimate(make_runtime) -> None:
    runtime = make_runtime()
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=100, **SMALL))
    run_until(service, task.id, is_step(0, 4), lambda: service.interrupt(task.id, keep_partial=True))
    done = service.store.get(task.id)
    assert done.state is TaskState.INTERRUPTED
    assert len(done.images) == 1 and done.images[0].partial
    assert Image.open(runtime.settings.data_dir / done.images[0].path).size == (32, 32)


def test_skip_ends_only_the_current_job(make_runtime) -> None:
    runtime = make_runtime()
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=60, batch_count=3, **SMALL))
    run_until(service, task.id, is_step(1, 2), lambda: service.skip(task.id))
    done = service.store.get(task.id)
    assert done.state is TaskState.COMPLETED
    assert [i.job_no for i in done.images] == [0, 2]
    assert done.stop_request is None  # the skip was used up by job 2


def test_timeout_stops_the_task_automatically(make_runtime) -> None:
    runtime = make_runtime()
    task = runtime.service.submit(TaskParams(prompt="x", steps=150, batch_count=5, timeout_s=0.3, **SMALL))
    done = runtime.service.wait(task.id, timeout=120)
    assert done.state is TaskState.INTERRUPTED and done.stop_reason == "timeout"
    assert done.stats is not None and done.stats.steps_run < 150 * 5


def test_a_failing_task_does_not_stop_the_next_one(make_runtime, tmp_path: Path) -> None:
    runtime = make_runtime()
    broken = tmp_path / "broken.safetensors"
    # A valid header that promises a tensor the file does not hold: passes the cheap check, fails to load.
    header = b'{"transformer.x.lora_A.weight":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}'
    broken.write_bytes(len(header).to_bytes(8, "little") + header)
    failing = runtime.service.submit(TaskParams(prompt="x", steps=2, lora=str(broken), **SMALL))
    following = runtime.service.submit(TaskParams(prompt="x", steps=2, **SMALL))
    assert runtime.service.wait(following.id, timeout=120).state is TaskState.COMPLETED
    failed = runtime.service.store.get(failing.id)
    assert failed.state is TaskState.FAILED
    assert "could not load LoRA" in (failed.error or "")


def test_lora_changes_the_image_and_is_unloaded_afterwards(make_runtime, tiny_lora: Path) -> None:
    runtime = make_runtime()
    service, data = runtime.service, runtime.settings.data_dir

    def pixels(**params) -> bytes:
        task = service.wait(service.submit(TaskParams(prompt="x", steps=2, seed=3, **SMALL, **params)).id)
        assert task.state is TaskState.COMPLETED, task.error
        return Image.open(data / task.images[0].path).tobytes()

    plain = pixels()
    with_lora = pixels(lora=str(tiny_lora), lora_scale=1.0)
    assert with_lora != plain
    assert pixels() == plain


def test_queue_runs_in_fifo_order_with_positions(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    tasks = [service.submit(TaskParams(prompt=str(n), steps=1, **SMALL)) for n in range(3)]
    texts = [service.store.get(t.id).progress.textinfo for t in tasks]
    assert texts == ["In queue: 1/3", "In queue: 2/3", "In queue: 3/3"]
    runtime.start()
    finished = [service.wait(t.id, timeout=120) for t in tasks]
    assert all(t.state is TaskState.COMPLETED for t in finished)
    starts = [t.started_at for t in finished]
    assert starts == sorted(starts)
    positions = [e.data for e in service.store.events_since(tasks[2].id) if e.type is EventType.QUEUED]
    assert positions[0] == {"position": 3, "size": 3} and {"position": 1, "size": 1} in positions


def test_restart_marks_the_crashed_task_interrupted_and_runs_the_queue(make_runtime) -> None:
    crashed = make_runtime(start=False)
    orphan = crashed.service.submit(TaskParams(prompt="x", steps=2, **SMALL))
    waiting = crashed.service.submit(TaskParams(prompt="y", steps=2, **SMALL))
    crashed.store.claim_next("worker-that-died")
    crashed.store.close()
    restarted = make_runtime()
    assert restarted.service.wait(waiting.id, timeout=120).state is TaskState.COMPLETED
    recovered = restarted.store.get(orphan.id)
    assert recovered.state is TaskState.INTERRUPTED and recovered.stop_reason == "restart"
    assert restarted.store.events_since(orphan.id)[-1].type is EventType.INTERRUPTED


def test_python_api_stop_token_from_another_thread(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """The seed tutorial's script: a second thread stops a running generation."""
    from pixelforge import Pixelforge, StopToken

    with Pixelforge(model=str(tiny_qwen_dir), data_dir=tmp_path / "api") as pf:
        stop = StopToken()
        started = threading.Event()
        handle = pf.submit("a knight", steps=150, stop=stop, on_step=lambda info: started.set(), **SMALL)
        threading.Thread(target=lambda: started.wait(60) and stop.request_interrupt()).start()
        task = handle.wait(timeout=120)
        assert task.state is TaskState.INTERRUPTED and task.images == []
        images = list(pf.generate_iter("a knight", steps=2, batch_count=2, **SMALL))
        assert [i.ref.job_no for i in images] == [0, 1] and all(i.path.is_file() for i in images)


def test_early_stop_rule_can_return_the_best_latents(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """A quality-aware rule: remember the latents at step 3, stop at step 6 and keep those."""
    from pixelforge import Pixelforge

    seen: list[StepInfo] = []

    def rule(info: StepInfo) -> EarlyStop | None:
        seen.append(info)
        if info.step == 6:
            return EarlyStop(reason="quality dropped", keep_partial=True, latents=seen[2].latents)
        return None

    with Pixelforge(model=str(tiny_qwen_dir), data_dir=tmp_path / "api") as pf:
        handle = pf.submit("x", steps=20, early_stop=rule, **SMALL)
        task = handle.wait(timeout=120)
    assert task.state is TaskState.INTERRUPTED and task.stop_reason == "quality dropped"
    assert len(seen) == 6 and seen[2].latents is not None and seen[0].x0 is not None
    assert len(task.images) == 1 and task.images[0].partial


def test_memory_does_not_grow_with_interrupted_tasks(make_runtime) -> None:
    from pixelforge.procmem import current_rss_mb

    runtime = make_runtime(preview_every=0)
    service = runtime.service

    def interrupted_tasks(count: int) -> None:
        for _ in range(count):
            task = service.submit(TaskParams(prompt="x", steps=50, **SMALL))
            run_until(service, task.id, is_step(0, 2), lambda t=task: service.interrupt(t.id))

    interrupted_tasks(5)
    after_five = current_rss_mb()
    interrupted_tasks(45)
    assert current_rss_mb() - after_five < 60  # MB; a leak of the pipeline state per stop would show here
    worker = runtime.workers[0]
    deadline = time.monotonic() + 30  # the worker forgets a task's token just after its terminal event
    while worker._tokens and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker._tokens == {}


def test_history_stays_bounded_while_running_and_pruned_files_go(make_runtime) -> None:
    from pixelforge.tasks.store import TaskNotFound

    runtime = make_runtime(history_limit=2, preview_every=0)
    service, data = runtime.service, runtime.settings.data_dir
    first = service.wait(service.submit(TaskParams(prompt="x", steps=1, **SMALL)).id)
    first_png = data / first.images[0].path
    assert first_png.is_file()
    later = [service.wait(service.submit(TaskParams(prompt="x", steps=1, **SMALL)).id) for _ in range(2)]
    deadline = time.monotonic() + 30  # the worker prunes right after a task's terminal event
    while first_png.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not first_png.exists()
    with pytest.raises(TaskNotFound):
        service.store.get(first.id)
    assert all(service.store.get(t.id).state is TaskState.COMPLETED for t in later)
