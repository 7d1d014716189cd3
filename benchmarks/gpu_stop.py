"""GPU stop latency through the engine: the real Qwen-Image-2512 architecture, random bf16 weights.

Builds ``QwenImageTransformer2DModel()`` and ``AutoencoderKLQwenImage()`` with their default
(= Qwen-Image-2512) configs and random weights on the GPU, as the design's reference probe did, so
nothing is downloaded. The 7B text encoder is left out: random
prompt embeddings of the real shape (128 tokens × 3584) stand in for the prompt, so the pipeline
runs its true-CFG denoising loop and its VAE decode exactly as in production. Everything else is
the project's own code: the ``QwenImageModel`` adapter, ``StepControl``, ``StopHooks`` with
``runahead_blocks`` = k, ``X0Tracker``, the backend's ``release()`` after a stop (as the worker
calls it), the preview path,
and, for the end-to-end rows, ``TaskRunner.run`` on a stored task through its task context.

Printed tables (at 1024² and 1328²):

1. stop latency, from the token being set at a random moment of the denoising loop to ``pipe()``
   having returned and the GPU being idle (``torch.cuda.synchronize``): step boundary (StepControl
   only) and block level for k = 0 (unbounded), 1, 2, 4 — p50 / p95 / max; one block's time;
2. throughput cost of each k: median time of full denoising runs with the hooks vs without;
3. VRAM allocated before any stop, after the first stop and after the 100th (each stop is followed
   by the runner's clean-up: hooks removed, ``pipe._interrupt`` reset, gc + ``empty_cache``);
4. preview cost: render (linear latent map) + encode of one preview vs the steps between two previews;
5. end to end through ``TaskRunner.run`` (k = ``Settings().runahead_blocks``): token set -> task
   stored as interrupted.

Bars (issue 7, H100): stop p95 <= 15 ms at 1328² with <= 1 % throughput cost; VRAM after 100 stops
equal to after one.

    python benchmarks/gpu_stop.py                 # on a CUDA machine (about 6 min on an H100)
    python benchmarks/gpu_stop.py --trials 30 --resolutions 1024 1328
    python benchmarks/gpu_stop.py --smoke         # CPU, tiny config: checks the script, numbers mean nothing

Without a CUDA device (and without ``--smoke``) it prints why and exits 0, measuring nothing.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pixelforge.backends.adapters import QwenImageModel, step_callback
from pixelforge.backends.base import JobRequest
from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.backends.families import family_of
from pixelforge.backends.x0 import X0Tracker
from pixelforge.config import Settings
from pixelforge.engine.control import StepControl, StopHooks, StopRequested, StopToken, repeated_blocks
from pixelforge.engine.preview import PreviewEncoder, encode_image
from pixelforge.engine.runner import TaskRunner
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.model import TaskParams, TaskState
from pixelforge.tasks.service import TaskService
from pixelforge.testing.percentiles import percentile

RUNAHEAD = (0, 1, 2, 4)
TEXT_TOKENS = 128


@dataclass
class EmbeddedPromptQwen(QwenImageModel):
    """The adapter with random prompt embeddings in place of the (absent) text encoder's output."""

    embeds: dict[str, torch.Tensor] = field(default_factory=dict)

    def pipeline_kwargs(self, job: JobRequest) -> dict[str, Any]:
        kwargs = super().pipeline_kwargs(job)
        kwargs.pop("prompt")
        kwargs.pop("negative_prompt", None)
        return kwargs | self.embeds


class FixedBackend:
    """The Backend protocol over one prebuilt model; ``release`` is the diffusers backend's own."""

    def __init__(self, model: EmbeddedPromptQwen, device: torch.device) -> None:
        self.model = model
        self.device = device
        self._release = DiffusersBackend(Settings(device=str(device)), device=device).release

    def load(self, model: str, lora: str | None, lora_scale: float) -> EmbeddedPromptQwen:
        return self.model

    def release(self) -> None:
        self._release()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def allocated_mib(device: torch.device) -> float:
    return torch.cuda.memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0


def build(device: torch.device, smoke: bool) -> tuple[EmbeddedPromptQwen, int]:
    """The model on ``device`` and its prompt-embedding width."""
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )

    from pixelforge.testing.tiny_qwen import build_tiny_qwen_pipeline

    tiny = build_tiny_qwen_pipeline()  # its text encoder + tokenizer fill the pipeline's slots, unused
    torch.manual_seed(0)
    if smoke:
        transformer, vae, dtype = tiny.transformer, tiny.vae, torch.float32
    else:
        dtype = torch.bfloat16
        torch.set_default_dtype(dtype)
        try:
            with torch.device(device):
                transformer = QwenImageTransformer2DModel().eval()
                vae = AutoencoderKLQwenImage().eval()
        finally:
            torch.set_default_dtype(torch.float32)
    pipe = QwenImagePipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=tiny.text_encoder, tokenizer=tiny.tokenizer,
    ).to(device)
    pipe.set_progress_bar_config(disable=True)
    width = transformer.config.joint_attention_dim
    embeds = {
        "prompt_embeds": torch.randn(1, TEXT_TOKENS, width, device=device, dtype=dtype),
        "prompt_embeds_mask": torch.ones(1, TEXT_TOKENS, device=device, dtype=torch.long),
        "negative_prompt_embeds": torch.randn(1, TEXT_TOKENS, width, device=device, dtype=dtype),
        "negative_prompt_embeds_mask": torch.ones(1, TEXT_TOKENS, device=device, dtype=torch.long),
    }
    model = EmbeddedPromptQwen(
        "qwen-image-2512 (random weights)", pipe, device, None, family_of("QwenImagePipeline"), embeds=embeds
    )
    model.prepare_previews()  # as adapter_for does at load (a no-op for the real VAE: its map is published)
    return model, width


def job_at(side: int, steps: int) -> JobRequest:
    return JobRequest(prompt="", negative_prompt="", steps=steps, cfg_scale=4.0, width=side, height=side, seeds=[0])


def run_pipe(model: EmbeddedPromptQwen, job: JobRequest, control: StepControl, output_type: str = "pil") -> None:
    """The model's pipeline called as its ``run`` calls it, but with ``output_type`` (``latent``: no decode)."""
    x0 = X0Tracker(model.pipe.scheduler)
    kwargs = model.pipeline_kwargs(job) | {"output_type": output_type}
    kwargs.update(callback_on_step_end=step_callback(control, x0), callback_on_step_end_tensor_inputs=["latents"])
    try:
        with torch.inference_mode():
            model.pipe(**kwargs)
    finally:
        x0.remove()


class StopCounter:
    """VRAM allocated after the 1st and the 100th stop."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.count = 0
        self.after: dict[int, float] = {}

    def stopped(self) -> None:
        self.count += 1
        if self.count in (1, 100):
            self.after[self.count] = allocated_mib(self.device)


def one_stop(
    model: EmbeddedPromptQwen, backend: FixedBackend, job: JobRequest, k: int | None, delay: float
) -> float | None:
    """Seconds from the token being set to pipe() returning with the GPU idle; None if the run ended first.

    ``k`` None: step boundary (StepControl only); else block hooks with run-ahead k. The clean-up
    after the stop is the runner's.
    """
    pipe = model.pipe
    token = StopToken()
    control = StepControl(token=token, steps=job.steps)
    hooks = StopHooks(runahead_blocks=k or 0)
    if k is not None:
        hooks.install(model.modules(), control, model.denoiser_name)
    stamp: list[float] = []

    def fire() -> None:
        stamp.append(time.perf_counter())
        token.interrupt()

    timer = threading.Timer(delay, fire)
    stopped = False
    timer.start()
    try:
        run_pipe(model, job, control, output_type="latent")
    except StopRequested:
        stopped = True
    sync(model.device)
    end = time.perf_counter()
    timer.cancel()
    timer.join()
    hooks.remove()
    pipe._interrupt = False
    if stopped:
        backend.release()
    return end - stamp[0] if stopped and stamp else None


def stop_trials(
    model: EmbeddedPromptQwen, backend: FixedBackend, job: JobRequest, k: int | None, count: int, step_s: float,
    rng: random.Random, stops: StopCounter,
) -> list[float]:
    found: list[float] = []
    while len(found) < count:
        # A random moment after the first step (warm caches) and before the last one.
        latency = one_stop(model, backend, job, k, rng.uniform(1.0, job.steps - 1.0) * step_s)
        if latency is not None:
            stops.stopped()  # measured here, once the stopped call's locals are gone
            found.append(latency)
    return found


def timed_runs(model: EmbeddedPromptQwen, job: JobRequest, k: int | None, runs: int) -> float:
    """Median seconds of full denoising runs (no decode) with block hooks at run-ahead k (None: no hooks)."""
    times = []
    for _ in range(runs):
        control = StepControl(token=StopToken(), steps=job.steps)
        hooks = StopHooks(runahead_blocks=k or 0)
        if k is not None:
            hooks.install(model.modules(), control, model.denoiser_name)
        sync(model.device)
        start = time.perf_counter()
        try:
            run_pipe(model, job, control, output_type="latent")
            sync(model.device)
        finally:
            hooks.remove()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def block_ms(model: EmbeddedPromptQwen, job: JobRequest) -> float:
    """Median GPU time of one transformer block (CUDA events; wall clock under --smoke)."""
    blocks = repeated_blocks(model.pipe.transformer)
    cuda = model.device.type == "cuda"
    marks: list[tuple[Any, Any]] = []

    def before(_m: torch.nn.Module, _a: Any) -> None:
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            marks.append((event, None))
        else:
            marks.append((time.perf_counter(), None))

    def after(_m: torch.nn.Module, _a: Any, _o: Any) -> None:
        start, _ = marks[-1]
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            marks[-1] = (start, event)
        else:
            marks[-1] = (start, time.perf_counter())

    handles = [h for b in blocks for h in (b.register_forward_pre_hook(before), b.register_forward_hook(after))]
    try:
        run_pipe(model, job_at(job.width, 1), StepControl(token=StopToken(), steps=1), output_type="latent")
        sync(model.device)
    finally:
        for handle in handles:
            handle.remove()
    if cuda:
        return statistics.median(start.elapsed_time(end) for start, end in marks)
    return statistics.median(end - start for start, end in marks) * 1000


def preview_ms(model: EmbeddedPromptQwen, job: JobRequest, image_format: str, repeats: int = 20) -> float:
    """Median time to render (linear map, on the GPU) and encode one preview of an x0 estimate."""
    control = StepControl(token=StopToken(), steps=1)
    run_pipe(model, job_at(job.width, 1), control, output_type="latent")
    x0 = control.last_x0
    assert x0 is not None
    times = []
    for _ in range(repeats):
        sync(model.device)
        start = time.perf_counter()
        with torch.inference_mode():
            encode_image(model.preview(x0, job.width, job.height), image_format)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def end_to_end(backend: FixedBackend, side: int, steps: int, trials: int, rng: random.Random,
               workdir: Path) -> tuple[list[float], list[float]]:
    """Token set at a random moment of denoising -> (the task's ``interrupted`` event, ``run`` returned).

    The clean-up (gc + ``empty_cache``) follows ``run``, as in ``Worker._run``: after the terminal
    event. One complete task first gives the times the random moments are drawn from.
    """
    settings = Settings(data_dir=workdir, device=str(backend.device))
    store = SQLiteTaskStore(settings.db_path)
    service = TaskService(store, InProcessBus())
    encoder = PreviewEncoder()
    runner = TaskRunner(backend, settings, encoder)
    params = TaskParams(prompt="a knight", steps=steps, cfg_scale=4.0, width=side, height=side, seed=1)

    def run(delay: float | None) -> tuple[Any, float | None, float | None]:
        service.submit(params)
        task = service.store.claim_next("bench")
        assert task is not None
        token = StopToken()
        stamp: list[float] = []

        def fire() -> None:
            stamp.append(time.time())
            token.interrupt()

        timer = threading.Timer(delay, fire) if delay is not None else None
        if timer is not None:
            timer.start()
        finished = service.finish(task.id, runner.run(service.start(task, token, str(backend.device))))
        if finished.state is not TaskState.COMPLETED:
            backend.release()  # as Worker._run does after a task that did not complete
        sync(backend.device)
        returned = time.time()
        if timer is not None:
            timer.cancel()
            timer.join()
        if finished.state is not TaskState.INTERRUPTED or not stamp:
            return finished, None, None
        terminal = service.store.events_since(task.id, 0)[-1]
        return finished, terminal.time - stamp[0], returned - stamp[0]

    to_event: list[float] = []
    to_return: list[float] = []
    try:
        calibration, _, _ = run(None)
        phases = calibration.stats.phases_s
        encode, denoise = phases.get("encode", 0.0), phases["denoise"]
        while len(to_event) < trials:
            _, event_s, return_s = run(encode + rng.uniform(1 / steps, 1 - 1 / steps) * denoise)
            if event_s is not None and return_s is not None:
                to_event.append(event_s)
                to_return.append(return_s)
    finally:
        encoder.close()
        store.close()
    return to_event, to_return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="block-level stops per k and resolution")
    parser.add_argument("--boundary-trials", type=int, default=10, help="step-boundary stops per resolution")
    parser.add_argument("--e2e-trials", type=int, default=10, help="stops through TaskRunner per resolution")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[1024, 1328])
    parser.add_argument("--throughput-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny config: exercise the script only")
    args = parser.parse_args()
    if args.smoke:
        device = torch.device("cpu")
        args.resolutions = [64, 96]
        torch.set_num_threads(1)
    elif not torch.cuda.is_available():
        print("gpu_stop.py: no CUDA device here, nothing measured. Run it on a machine with an NVIDIA GPU "
              "(about 40 GiB free for the random-weight Qwen-Image-2512 transformer), or pass --smoke to "
              "check the script on CPU.")
        return 0
    else:
        device = torch.device("cuda")
    rng = random.Random(args.seed)
    settings = Settings()
    start = time.perf_counter()
    model, _ = build(device, args.smoke)
    backend = FixedBackend(model, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke)"
    print(f"{name}, torch {torch.__version__}; built in {time.perf_counter() - start:.0f} s, "
          f"{sum(p.numel() for p in model.pipe.transformer.parameters()) / 1e9:.2f} B transformer parameters")

    stops = StopCounter(device)
    latency_rows, cost_rows, preview_rows, e2e_rows = [], [], [], []
    memory_before = None
    for side in args.resolutions:
        steps = 4
        job = job_at(side, steps)
        run_pipe(model, job_at(side, 1), StepControl(token=StopToken(), steps=1))  # warm-up, with a decode
        sync(device)
        if memory_before is None:
            backend.release()
            memory_before = allocated_mib(device)
        base = timed_runs(model, job, None, args.throughput_runs)
        step_s = base / steps
        one_block = block_ms(model, job)
        costs = {k: timed_runs(model, job, k, args.throughput_runs) / base - 1 for k in RUNAHEAD}
        cost_rows.append((side, base, costs))
        boundary = stop_trials(model, backend, job, None, args.boundary_trials, step_s, rng, stops)
        latency_rows.append((side, "step boundary", boundary, one_block, step_s))
        for k in RUNAHEAD:
            label = "block hooks, unbounded run-ahead (k=0)" if k == 0 else f"block hooks, run-ahead k={k}"
            latencies = stop_trials(model, backend, job, k, args.trials, step_s, rng, stops)
            latency_rows.append((side, label, latencies, one_block, step_s))
        render = preview_ms(model, job, settings.preview_format)
        preview_rows.append((side, render, render / (settings.preview_every * step_s * 1000)))
        with tempfile.TemporaryDirectory() as tmp:
            e2e = end_to_end(backend, side, 6, args.e2e_trials, rng, Path(tmp))
        e2e_rows.append((side, e2e))

    print()
    print("Stop latency: token set at a random moment of denoising -> pipe() returned, GPU idle (true CFG, bf16)")
    print()
    print("| size | mode | n | p50 ms | p95 ms | max ms | one block ms | one step ms |")
    print("|---|---|---|---|---|---|---|---|")
    for side, label, values, block, step_s in latency_rows:
        p50, p95, worst = (percentile(values, q) * 1000 for q in (50, 95, 100))
        print(f"| {side}² | {label} | {len(values)} | {p50:.1f} | {p95:.1f} | {worst:.1f} | {block:.2f} "
              f"| {step_s * 1000:.0f} |")
    print()
    print("Throughput cost of the block hooks (median of full 4-step runs, no decode)")
    print()
    print("| size | no hooks s | " + " | ".join(f"k={k}" for k in RUNAHEAD) + " |")
    print("|---|---|" + "---|" * len(RUNAHEAD))
    for side, base, costs in cost_rows:
        print(f"| {side}² | {base:.3f} | " + " | ".join(f"{costs[k] * 100:+.2f} %" for k in RUNAHEAD) + " |")
    print()
    print("VRAM allocated (MiB), each stop followed by the runner's clean-up")
    print()
    print("| before any stop | after 1 stop | after 100 stops | stops run | equal after 1 and 100 |")
    print("|---|---|---|---|---|")
    one, hundred = stops.after.get(1), stops.after.get(100)
    equal = "yes" if one is not None and hundred is not None and one == hundred else "NO" if hundred else "n/a"
    fmt = lambda v: f"{v:.1f}" if v is not None else "—"  # noqa: E731
    print(f"| {fmt(memory_before)} | {fmt(one)} | {fmt(hundred)} | {stops.count} | {equal} |")
    print()
    print(f"Preview cost (linear latent map on the device + {settings.preview_format} encode, "
          f"every {settings.preview_every} steps)")
    print()
    print("| size | render + encode ms | share of the steps between previews |")
    print("|---|---|---|")
    for side, render, share in preview_rows:
        print(f"| {side}² | {render:.1f} | {share * 100:.2f} % |")
    print()
    print(f"End to end through TaskRunner.run (k={settings.runahead_blocks}): token set -> the task's interrupted "
          "event, and -> run() returned after the clean-up (gc + empty_cache)")
    print()
    print("| size | n | to event p50 ms | p95 ms | max ms | to return p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for side, (to_event, to_return) in e2e_rows:
        if to_event:
            cells = [percentile(to_event, 50), percentile(to_event, 95), percentile(to_event, 100),
                     percentile(to_return, 50), percentile(to_return, 95)]
            print(f"| {side}² | {len(to_event)} | " + " | ".join(f"{c * 1000:.1f}" for c in cells) + " |")
    gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
