"""The engine end to end on a real (tiny, random) Qwen-Image pipeline, through the Runtime."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from pixelforge.engine.control import EarlyStop, StepInfo
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.tasks.service import InvalidTask
from pixelforge.testing.hooks import Calls, Hold, denoiser, until_stopped

SMALL = {"width": 32, "height": 32}
# cfg 1.0: one denoiser pass per step (no true CFG), so pass n of the task is step n.
ONE_PASS = {"cfg_scale": 1.0, **SMALL}


def pipe_of(runtime):
    return runtime.workers[0].backend.load(runtime.settings.model, None, 1.0).pipe


def at_step(runtime, steps: int, job_no: int, step: int, action) -> Calls:
    """Run ``action`` inside the worker right after denoising step ``step`` of job ``job_no``."""
    return Calls(pipe_of(runtime).transformer, at=job_no * steps + step, action=action)


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
    runtime = make_runtime(start=False, preview_every=0)  # previews of this tiny model go through the VAE too
    decodes = Calls(pipe_of(runtime).vae.decoder)
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=10, batch_count=3, **ONE_PASS))
    at_step(runtime, 10, job_no=1, step=3, action=lambda: service.interrupt(task.id))
    runtime.start()
    done = service.wait(task.id, timeout=120)
    assert done.state is TaskState.INTERRUPTED and done.stop_reason == "user"
    assert [i.job_no for i in done.images] == [0]  # job 1 finished before the stop and is kept
    assert decodes.count == 1  # only job 1's decode: the interrupted job was never decoded
    assert done.stats is not None and done.stats.steps_run == 10 + 3
    assert pipe_of(runtime)._interrupt is False


def test_keep_partial_decodes_the_current_estimate(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=10, **ONE_PASS))
    at_step(runtime, 10, job_no=0, step=4, action=lambda: service.interrupt(task.id, keep_partial=True))
    runtime.start()
    done = service.wait(task.id, timeout=120)
    assert done.state is TaskState.INTERRUPTED
    assert len(done.images) == 1 and done.images[0].partial
    assert Image.open(runtime.settings.data_dir / done.images[0].path).size == (32, 32)


def test_skip_ends_only_the_current_job(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=6, batch_count=3, **ONE_PASS))
    at_step(runtime, 6, job_no=1, step=2, action=lambda: service.skip(task.id))
    runtime.start()
    done = service.wait(task.id, timeout=120)
    assert done.state is TaskState.COMPLETED
    assert [i.job_no for i in done.images] == [0, 2]
    assert done.stop_request is None  # the skip was used up by job 2


def test_skip_keeping_the_partial_image_decodes_it_and_goes_on(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=6, batch_count=3, **ONE_PASS))
    at_step(runtime, 6, job_no=1, step=2, action=lambda: service.skip(task.id, keep_partial=True))
    runtime.start()
    done = service.wait(task.id, timeout=120)
    assert done.state is TaskState.COMPLETED
    assert [(i.job_no, i.partial) for i in done.images] == [(0, False), (1, True), (2, False)]
    assert Image.open(runtime.settings.data_dir / done.images[1].path).size == (32, 32)
    assert done.stats is not None and done.stats.steps_run == 6 + 2 + 6


def test_a_skip_in_the_last_step_keeping_the_image_lets_its_decode_finish(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    task = service.submit(TaskParams(prompt="x", steps=4, batch_count=2, **ONE_PASS))
    at_step(runtime, 4, job_no=0, step=4, action=lambda: service.skip(task.id, keep_partial=True))
    runtime.start()
    done = service.wait(task.id, timeout=120)
    # The skip landed when only the decode was left: the image is the finished one, and the skip is
    # used up by that job instead of ending the next.
    assert [(i.job_no, i.partial) for i in done.images] == [(0, False), (1, False)]
    assert done.state is TaskState.COMPLETED and done.stop_request is None


def test_timeout_stops_the_task_automatically(make_runtime) -> None:
    runtime = make_runtime(start=False)
    task = runtime.service.submit(TaskParams(prompt="x", steps=150, batch_count=5, timeout_s=0.3, **SMALL))
    # The task waits at its second step for as long as the timeout takes to fire: no race with the clock.
    Hold(denoiser(runtime), when=lambda: True, until=until_stopped(runtime, task.id))
    runtime.start()
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
    failed = runtime.service.get(failing.id)
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


def test_a_lora_for_the_sprite_model_is_refused_at_submission(make_runtime, tiny_lora: Path) -> None:
    runtime = make_runtime(model="sprite", start=False)
    with pytest.raises(InvalidTask, match="lora: the sprite model takes no LoRA"):
        runtime.service.submit(TaskParams(prompt="x", lora=str(tiny_lora)))
    assert runtime.service.store.count() == 0


def test_queue_runs_in_fifo_order_with_positions(make_runtime) -> None:
    runtime = make_runtime(start=False)
    service = runtime.service
    tasks = [service.submit(TaskParams(prompt=str(n), steps=1, **SMALL)) for n in range(3)]
    texts = [service.get(t.id).progress.textinfo for t in tasks]
    assert texts == ["In queue: 1/3", "In queue: 2/3", "In queue: 3/3"]
    runtime.start()
    finished = [service.wait(t.id, timeout=120) for t in tasks]
    assert all(t.state is TaskState.COMPLETED for t in finished)
    starts = [t.started_at for t in finished]
    assert starts == sorted(starts)
    # Places are computed, not stored: each task keeps the one queued event of its submission, however
    # often the queue moved (watchers are told the moves live: tests/tasks/test_service.py).
    stored = [[e.data for e in service.store.events_since(t.id) if e.type is EventType.QUEUED] for t in tasks]
    assert stored == [[{"position": n, "size": n}] for n in (1, 2, 3)]


def test_restart_marks_the_crashed_task_interrupted_and_runs_the_queue(make_runtime) -> None:
    crashed = make_runtime(start=False)
    orphan = crashed.service.submit(TaskParams(prompt="x", steps=2, **SMALL))
    waiting = crashed.service.submit(TaskParams(prompt="y", steps=2, **SMALL))
    crashed.service.store.claim_next("worker-that-died")
    crashed.store.close()
    crashed.lock.release()  # what the kernel does when the crashed process dies
    restarted = make_runtime()
    assert restarted.service.wait(waiting.id, timeout=120).state is TaskState.COMPLETED
    recovered = restarted.service.get(orphan.id)
    assert recovered.state is TaskState.INTERRUPTED and recovered.stop_reason == "restart"
    assert restarted.service.store.events_since(orphan.id)[-1].type is EventType.INTERRUPTED


def test_python_api_stop_token_from_another_thread(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """The seed tutorial's script: a second thread stops a running generation."""
    from pixelforge import Pixelforge, StopToken

    with Pixelforge(model=str(tiny_qwen_dir), data_dir=tmp_path / "api") as pf:
        stop = StopToken()
        started = threading.Event()

        def first_step_waits_for_the_stop(info: StepInfo) -> None:
            started.set()
            stop.wait(60)  # the task stays at step 1 until the other thread's stop arrives

        handle = pf.submit("a knight", steps=150, stop=stop, on_step=first_step_waits_for_the_stop, **SMALL)
        threading.Thread(target=lambda: started.wait(60) and stop.request_interrupt()).start()
        task = handle.wait(timeout=120)
        assert task.state is TaskState.INTERRUPTED and task.images == []
        assert task.stats is not None and task.stats.steps_run == 1
        assert len(pf.runtime.tokens) == 0
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


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))


def test_nothing_grows_with_interrupted_tasks(make_runtime) -> None:
    """A stop leaves nothing behind: no tensors, no tokens (what memory growth would come from)."""
    runtime = make_runtime(start=False, preview_every=0)
    service = runtime.service
    running: list[str] = []
    # Every task is stopped right after its second step: two denoiser passes per task.
    Calls(pipe_of(runtime).transformer, action=lambda: service.interrupt(running[-1])).every(2)
    runtime.start()

    def interrupted_tasks(count: int) -> None:
        for _ in range(count):
            running.append(f"task(leak-{len(running)})")
            task = service.submit(TaskParams(prompt="x", steps=50, **ONE_PASS), task_id=running[-1])
            assert service.wait(task.id, timeout=120).state is TaskState.INTERRUPTED

    interrupted_tasks(5)
    after_five = _live_tensors()
    interrupted_tasks(45)
    assert _live_tensors() <= after_five
    assert len(runtime.tokens) == 0  # each task's token went before its terminal event


def test_history_stays_bounded_while_running_and_pruned_files_go(make_runtime) -> None:
    from pixelforge.tasks.store import TaskNotFound

    runtime = make_runtime(history_limit=2, preview_every=0)
    service, data = runtime.service, runtime.settings.data_dir
    first = service.wait(service.submit(TaskParams(prompt="x", steps=1, **SMALL)).id)
    first_png = data / first.images[0].path
    assert first_png.is_file()
    later = [service.wait(service.submit(TaskParams(prompt="x", steps=1, **SMALL)).id) for _ in range(2)]
    assert not first_png.exists()  # pruned before the third task's terminal event was announced
    with pytest.raises(TaskNotFound):
        service.get(first.id)
    assert all(service.get(t.id).state is TaskState.COMPLETED for t in later)


def test_refused_and_cancelled_python_submits_leave_no_token_behind(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    from pixelforge import Pixelforge, StopToken
    from pixelforge.tasks.service import InvalidTask

    with Pixelforge(model=str(tiny_qwen_dir), data_dir=tmp_path / "api") as pf:
        with pytest.raises(InvalidTask):
            pf.submit("x", steps=10_000, stop=StopToken())
        assert len(pf.runtime.tokens) == 0
        pf.runtime.service.store.set_paused(True)
        handle = pf.submit("x", stop=StopToken(), **SMALL)
        assert len(pf.runtime.tokens) == 1  # attached, waiting for a worker
        pf.runtime.service.cancel(handle.id)  # cancelled by anyone, not only through the handle
        assert handle.task.state is TaskState.CANCELLED
        assert len(pf.runtime.tokens) == 0
