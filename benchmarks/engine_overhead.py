"""CPU cost of the engine: bare ``pipe(...)`` vs a task through the Runtime, previews, ETA accuracy.

For each model (the bundled sprite model when its weights are installed, and the tiny random
Qwen-Image pipeline):

1. engine overhead: the wall time of ``--runs`` bare ``pipe(...)`` calls on the very same loaded
   pipeline vs the time from ``submit`` to the terminal event of a task with the same parameters
   through ``Runtime`` (store, events, progress, stop hooks, x0 tracking, previews at the default
   cadence, PNG with metadata). Runs are interleaved so that load on the machine hits both; the
   median and the minimum are shown: on a shared machine the minimum is the better estimate of
   what the engine itself costs, the median says what a user saw that day;
2. preview cost at the default cadence (``Settings().preview_every``): the time to render + encode
   one preview (the encoder thread's work) as a share of the steps between two previews — the bar —
   and, for what the sampler feels, the median step time of tasks with previews on vs off;
3. ETA error: for the progress events nearest 20 %, 50 % and 80 % of each task, the reported
   ``eta_s`` minus the time the task really still took (median over the runs; + = pessimistic).

Bars (CPU): engine overhead <= 3 %, preview cost <= 3 % of step time. Wall-clock numbers on a
shared machine; torch runs on ``--threads`` threads (default 1, see stop_latency.py).

    python benchmarks/engine_overhead.py [--runs 9] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pixelforge.backends.base import JobRequest
from pixelforge.backends.presets import sprite_weights_dir
from pixelforge.backends.resolve import job_requests, resolve_params
from pixelforge.config import Settings
from pixelforge.engine.control import StepControl, StopToken
from pixelforge.engine.preview import encode_image
from pixelforge.runtime import Runtime
from pixelforge.tasks.events import TaskEvent
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.testing.tiny_qwen import save_tiny_qwen_pipeline

PROGRESS_POINTS = (0.2, 0.5, 0.8)


@dataclass
class Case:
    label: str
    model: str  # what TaskParams.model / the backend take
    params: TaskParams


def cases(workdir: Path) -> list[Case]:
    found = []
    if (sprite_weights_dir() / "model_index.json").exists():
        found.append(Case("sprite (defaults)", "sprite", TaskParams(prompt="a knight with a sword", seed=1)))
    else:
        print(f"(sprite model not installed at {sprite_weights_dir()}: skipped)")
    tiny = str(save_tiny_qwen_pipeline(workdir / "tiny-qwen"))
    params = TaskParams(prompt="a knight", steps=20, cfg_scale=4.0, width=64, height=64, seed=1)
    found.append(Case("tiny Qwen-Image 64² 20 steps, true CFG", tiny, params))
    return found


def job_of(runtime: Runtime, case: Case) -> tuple[Any, JobRequest]:
    """The loaded model of the runtime's worker and the job a task with ``case.params`` runs."""
    model = runtime.workers[0].backend.load(case.model, None, 1.0)
    return model, job_requests(case.params, resolve_params(case.params, model))[0]


def bare_run(model: Any, job: JobRequest) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        model.pipe(**model.pipeline_kwargs(job))
    return time.perf_counter() - start


def engine_run(runtime: Runtime, case: Case) -> tuple[float, list[TaskEvent], float | None]:
    """(submit -> terminal event seconds, the task's events, its median step time)."""
    start = time.time()
    task = runtime.service.submit(case.params.model_copy(update={"model": case.model}))
    events = list(runtime.service.events(task.id, timeout=600))
    finished = runtime.service.get(task.id)
    assert finished.state is TaskState.COMPLETED, finished.error
    assert finished.stats is not None
    return events[-1].time - start, events, finished.stats.step_time_s


def eta_errors(events: list[TaskEvent]) -> dict[float, float]:
    """For each progress point: reported eta_s minus the real remaining time, at the nearest event."""
    end = events[-1].time
    progress = [e for e in events if e.type is EventType.PROGRESS and e.data.get("eta_s") is not None]
    errors = {}
    for point in PROGRESS_POINTS:
        event = min(progress, key=lambda e: abs(e.data["progress"] - point))
        errors[point] = event.data["eta_s"] - (end - event.time)
    return errors


def preview_render_s(model: Any, job: JobRequest, image_format: str, repeats: int = 10) -> float:
    """Median time to render and encode one preview of a real x0 estimate (the encoder thread's work)."""
    control = StepControl(token=StopToken(), steps=job.steps_run)
    model.run(job, control)
    x0 = control.last_x0
    assert x0 is not None
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            image = model.preview(x0, job.width, job.height)
            encode_image(image, image_format)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    defaults = Settings()
    overhead_rows, preview_rows, eta_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(cases(Path(tmp))):
            runtime = Runtime(Settings(data_dir=Path(tmp) / f"data-{index}", device="cpu"))
            runtime.start()
            try:
                model, job = job_of(runtime, case)
                bare_run(model, job)  # warm-up of the pipeline and of the engine path
                engine_run(runtime, case)
                bare, engine, steps_on, steps_off = [], [], [], []
                errors: dict[float, list[float]] = {point: [] for point in PROGRESS_POINTS}
                for _ in range(args.runs):
                    bare.append(bare_run(model, job))
                    runtime.settings.preview_every = defaults.preview_every
                    wall, events, step_on = engine_run(runtime, case)
                    engine.append(wall)
                    for point, error in eta_errors(events).items():
                        errors[point].append(error)
                    # Same worker, same pipeline, previews off: only the previews differ (the runner
                    # reads the setting at every step).
                    runtime.settings.preview_every = 0
                    _, _, step_off = engine_run(runtime, case)
                    steps_on.append(step_on)
                    steps_off.append(step_off)
                overhead_rows.append((case.label, bare, engine))
                step_on_s, step_off_s = statistics.median(steps_on), statistics.median(steps_off)
                render_s = preview_render_s(model, job, defaults.preview_format)
                preview_rows.append((case.label, step_off_s, step_on_s, render_s))
                medians = {p: statistics.median(e) for p, e in errors.items()}
                eta_rows.append((case.label, statistics.median(engine), medians))
            finally:
                runtime.stop()

    print()
    print(f"Engine overhead, CPU, torch threads={args.threads}, {args.runs} interleaved runs each")
    print()
    print("| model | bare pipe() s, median / min | engine task s, median / min | ratio of medians "
          "| ratio of minima | bar (≤ 3 %, minima) |")
    print("|---|---|---|---|---|---|")
    for label, bare, engine in overhead_rows:
        by_median = statistics.median(engine) / statistics.median(bare) - 1
        by_min = min(engine) / min(bare) - 1
        verdict = "met" if by_min <= 0.03 else "MISSED"
        print(f"| {label} | {statistics.median(bare):.3f} / {min(bare):.3f} | {statistics.median(engine):.3f} / "
              f"{min(engine):.3f} | {by_median * 100:+.1f} % | {by_min * 100:+.1f} % | {verdict} |")
    every = defaults.preview_every
    print()
    print(f"Preview cost at the default cadence (every {every} steps, {defaults.preview_format})")
    print()
    print("| model | render+encode ms | share of step time | bar (≤ 3 %) | step s, previews off | "
          "step s, previews on | sampler slowdown |")
    print("|---|---|---|---|---|---|---|")
    for label, step_off_s, step_on_s, render_s in preview_rows:
        slowdown = step_on_s / step_off_s - 1
        share = render_s / (every * step_off_s)
        print(f"| {label} | {render_s * 1000:.1f} | {share * 100:.2f} % | {'met' if share <= 0.03 else 'MISSED'} "
              f"| {step_off_s:.4f} | {step_on_s:.4f} | {slowdown * 100:+.1f} % |")
    print()
    print("ETA error (reported eta_s minus the real remaining time; + = pessimistic), median of the runs")
    print()
    print("| model | task s | " + " | ".join(f"at {round(p * 100)} %" for p in PROGRESS_POINTS) + " |")
    print("|---|---|" + "---|" * len(PROGRESS_POINTS))
    for label, engine_s, medians in eta_rows:
        cells = " | ".join(
            f"{medians[p]:+.3f} s ({medians[p] / engine_s * 100:+.1f} % of task)" for p in PROGRESS_POINTS
        )
        print(f"| {label} | {engine_s:.3f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
