"""CPU stop latency through the engine: step boundary vs block level, on the project's own models.

For each model (the bundled sprite model when its weights are installed, and the tiny random
Qwen-Image pipeline) a stop is requested from another thread at a random moment of the denoising
loop, ``--trials`` times per mode, and timed from the token being set to ``pipe(...)`` returning:

- ``diffusers _interrupt``: the stock behaviour for reference (a callback sets ``pipe._interrupt``;
  diffusers skips the remaining steps, then still decodes);
- ``step boundary``: the engine's :class:`StepControl` alone (raises at the end of the step, no decode);
- ``block level``: :class:`StepControl` + :class:`StopHooks`, as the task runner installs them;
- ``engine task``: the whole product path, a task on a ``Runtime`` stopped with
  ``service.interrupt`` and timed to its ``interrupted`` event (store write, bus, clean-up order).

One block's time (forward of one repeated block of the denoiser, median and max) is printed next to
it: the CPU bar is block-level p95 <= one block + 5 ms. Timings are wall clock on a shared machine;
torch runs on ``--threads`` threads (default 1: with several processes on two cores, more threads
than cores make every number slower and noisier).

    python benchmarks/stop_latency.py [--trials 30] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pixelforge.backends.adapters import DiffusersModel, step_callback
from pixelforge.backends.base import JobRequest
from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.backends.presets import sprite_weights_dir
from pixelforge.config import Settings
from pixelforge.engine.control import StepControl, StopHooks, StopRequested, StopToken, repeated_blocks
from pixelforge.runtime import Runtime
from pixelforge.tasks.model import EventType, TaskParams
from pixelforge.tasks.service import TaskService
from pixelforge.testing.percentiles import percentile
from pixelforge.testing.tiny_qwen import save_tiny_qwen_pipeline

MODES = ("diffusers _interrupt", "step boundary", "block level")


@dataclass
class Case:
    label: str
    spec: str  # the model as TaskParams.model names it
    model: DiffusersModel
    job: JobRequest


def cpu_models(workdir: Path) -> list[Case]:
    backend = DiffusersBackend(Settings(device="cpu", data_dir=workdir))
    cases = []
    if (sprite_weights_dir() / "model_index.json").exists():
        sprite = backend.load("sprite", None, 1.0)
        defaults = sprite.defaults()
        job = JobRequest("a knight with a sword", "", defaults.steps, defaults.cfg_scale, defaults.width,
                         defaults.height, [1])
        cases.append(Case(f"sprite {defaults.width}² {defaults.steps} steps", "sprite", sprite, job))
    else:
        print(f"(sprite model not installed at {sprite_weights_dir()}: skipped)")
    # A second backend: each holds one loaded model.
    tiny_dir = save_tiny_qwen_pipeline(workdir / "tiny-qwen")
    tiny = DiffusersBackend(Settings(device="cpu", data_dir=workdir)).load(str(tiny_dir), None, 1.0)
    job = JobRequest("a knight", "", 8, 4.0, 128, 128, [1])
    cases.append(Case("tiny Qwen-Image 128² 8 steps, true CFG", str(tiny_dir), tiny, job))
    return cases


def block_times(case: Case) -> tuple[float, float, float, float]:
    """(median block s, max block s, denoise start s, denoise length s) from one full run."""
    denoiser = case.model.modules()[case.model.denoiser_name]
    starts: dict[int, float] = {}
    durations: list[float] = []

    def before(module: torch.nn.Module, _args: Any) -> None:
        starts[id(module)] = time.perf_counter()

    def after(module: torch.nn.Module, _args: Any, _out: Any) -> None:
        durations.append(time.perf_counter() - starts[id(module)])

    handles = []
    for block in repeated_blocks(denoiser):
        handles += [block.register_forward_pre_hook(before), block.register_forward_hook(after)]
    control = StepControl(token=StopToken(), steps=case.job.steps)
    hooks = StopHooks()
    hooks.install(case.model.modules(), control, case.model.denoiser_name)
    start = time.perf_counter()
    try:
        call(case, control)
    finally:
        hooks.remove()
        for handle in handles:
            handle.remove()
    assert control.denoise_started is not None and control.last_step_end is not None
    return (statistics.median(durations), max(durations), control.denoise_started - start,
            control.last_step_end - control.denoise_started)


def call(case: Case, callback: Any) -> None:
    """The model's pipeline with ``callback`` as its ``callback_on_step_end``; a StepControl goes through the
    adapter's ``step_callback``, as the model's ``run`` passes it (no x0 tracking: nothing here decodes)."""
    if isinstance(callback, StepControl):
        callback = step_callback(callback, None)
    kwargs = case.model.pipeline_kwargs(case.job)
    kwargs.update(callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["latents"])
    with torch.inference_mode():
        case.model.pipe(**kwargs)


def one_stop(case: Case, mode: str, delay: float) -> float | None:
    """Seconds from the stop request to ``pipe(...)`` returning; None if the run ended first."""
    pipe = case.model.pipe
    token = StopToken()
    control = StepControl(token=token, steps=case.job.steps)
    hooks = StopHooks()
    if mode == "block level":
        hooks.install(case.model.modules(), control, case.model.denoiser_name)

    def diffusers_interrupt(pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if token.pending is not None:
            pipe._interrupt = True
        return kwargs

    stamp: list[float] = []

    def fire() -> None:
        stamp.append(time.perf_counter())
        token.interrupt()

    timer = threading.Timer(delay, fire)
    timer.start()
    try:
        call(case, diffusers_interrupt if mode == "diffusers _interrupt" else control)
    except StopRequested:
        pass
    finally:
        end = time.perf_counter()
        timer.cancel()
        timer.join()
        hooks.remove()
        pipe._interrupt = False
    return end - stamp[0] if stamp and stamp[0] < end else None


def service_stop_latencies(service: TaskService, params: TaskParams, trials: int, rng: random.Random) -> list[float]:
    """Seconds from ``service.interrupt`` to the task's ``interrupted`` event, at random moments of denoising
    (the service may be in process or on Redis: ``benchmarks/redis_stop_latency.py`` uses it too)."""
    service.wait(service.submit(params).id, timeout=600)  # warm-up: loads the model
    calibration = service.wait(service.submit(params).id, timeout=600)
    assert calibration.stats is not None and calibration.resolved is not None
    denoise_s, steps = calibration.stats.phases_s["denoise"], calibration.resolved.steps
    latencies: list[float] = []
    while len(latencies) < trials:
        task = service.submit(params)
        stamp: list[float] = []

        def fire(task_id: str = task.id, stamp: list[float] = stamp) -> None:
            stamp.append(time.time())
            service.interrupt(task_id)

        timer = None
        for event in service.events(task.id, timeout=600):
            if event.type is EventType.PROGRESS and event.data["step"] == 1 and timer is None:
                # Armed when the first step is done: the stop lands in one of the following steps.
                timer = threading.Timer(rng.uniform(0.0, denoise_s * (1 - 2 / steps)), fire)
                timer.start()
            elif event.type is EventType.INTERRUPTED and stamp:
                latencies.append(event.time - stamp[0])
        if timer is not None:
            timer.cancel()
            timer.join()
    return latencies


def engine_stops(case: Case, trials: int, rng: random.Random, workdir: Path) -> list[float]:
    """``service.interrupt`` at a random moment of denoising -> the task's ``interrupted`` event, in seconds."""
    job = case.job
    params = TaskParams(prompt=job.prompt, steps=job.steps, cfg_scale=job.cfg_scale, width=job.width,
                        height=job.height, seed=job.seeds[0], model=case.spec)
    runtime = Runtime(Settings(data_dir=workdir, device="cpu"))
    runtime.start()
    try:
        return service_stop_latencies(runtime.service, params, trials, rng)
    finally:
        runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cpu_models(Path(tmp)):
            call(case, StepControl(token=StopToken(), steps=case.job.steps))  # warm-up
            block_median, block_max, denoise_at, denoise_s = block_times(case)
            for mode in MODES:
                latencies: list[float] = []
                missed = 0
                while len(latencies) < args.trials:
                    # A random moment of the denoising loop, leaving the last step out so the stop lands in it.
                    delay = denoise_at + rng.uniform(0.0, denoise_s * (1 - 1 / case.job.steps))
                    latency = one_stop(case, mode, delay)
                    if latency is None:
                        missed += 1
                        continue
                    latencies.append(latency)
                rows.append((case.label, mode, latencies, block_median, block_max, denoise_s / case.job.steps, missed))
            engine = engine_stops(case, args.trials, rng, Path(tmp) / f"engine-{len(rows)}")
            rows.append((case.label, "engine task", engine, block_median, block_max, denoise_s / case.job.steps, 0))

    print()
    print(f"Stop latency, CPU, torch threads={args.threads}, from the token being set to pipe() returning")
    print()
    print("| model | mode | n | p50 ms | p95 ms | max ms | one block ms (median / max) | one step ms | bar |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, mode, latencies, block_median, block_max, step_s, _missed in rows:
        p50, p95, worst = (percentile(latencies, q) * 1000 for q in (50, 95, 100))
        bar = ""
        if mode == "block level":
            limit = block_median * 1000 + 5
            bar = f"p95 ≤ {limit:.1f} ms: {'met' if p95 <= limit else 'MISSED'}"
        print(f"| {label} | {mode} | {len(latencies)} | {p50:.1f} | {p95:.1f} | {worst:.1f} "
              f"| {block_median * 1000:.2f} / {block_max * 1000:.2f} | {step_s * 1000:.1f} | {bar} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
