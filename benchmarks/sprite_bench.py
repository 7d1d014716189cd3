"""CPU latency of the sprite model: one 32×32 image, 20 steps, classifier-free guidance.

    python benchmarks/sprite_bench.py [--runs 7] [--threads 2]

Rows: the shipped pipeline, and the "wide" and "gpu" preset architectures with random weights, so that a
preset's latency is known before it is trained (weights do not change the cost).
Prints a Markdown table of the median, min and max over the runs after two warm-up runs. Exits 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixelforge.backends.sprite import SpritePipeline, weights_dir
from pixelforge.backends.sprite.presets import build_pipeline

PROMPT = "a knight with a sword"
BAR_SECONDS = 2.0


def time_pipeline(pipe: SpritePipeline, runs: int, steps: int, guidance: float) -> list[float]:
    pipe.set_progress_bar_config(disable=True)
    times = []
    for i in range(runs + 2):
        generator = torch.Generator().manual_seed(i)
        start = time.perf_counter()
        pipe(PROMPT, num_inference_steps=steps, guidance_scale=guidance, generator=generator)
        if i >= 2:  # the first calls build oneDNN primitives and warm the allocator
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    shipped = SpritePipeline.from_pretrained(weights_dir())
    run_name = json.loads((weights_dir() / "training.json").read_text())["run"]
    vocab = shipped.tokenizer.get_vocab()
    rows = [(f"shipped ({run_name})", shipped)]
    rows += [(f"{preset} preset, random weights", build_pipeline(vocab, preset)) for preset in ("wide", "gpu")]

    print(f"sprite model, 32×32, {args.steps} steps, CFG {args.guidance}, {args.threads} threads, {args.runs} runs\n")
    print("| model | params (M) | median s | min s | max s | ms/step | bar ≤ 2 s |")
    print("|---|---|---|---|---|---|---|")
    for name, pipe in rows:
        params = sum(p.numel() for p in pipe.unet.parameters()) + sum(p.numel() for p in pipe.text_encoder.parameters())
        times = time_pipeline(pipe, args.runs, args.steps, args.guidance)
        median = statistics.median(times)
        print(f"| {name} | {params / 1e6:.1f} | {median:.3f} | {min(times):.3f} | {max(times):.3f} | "
              f"{1000 * median / args.steps:.1f} | {'yes' if median <= BAR_SECONDS else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
