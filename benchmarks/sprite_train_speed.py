"""Training throughput of the sprite model on this machine: samples/s per preset and CPU option.

    python benchmarks/sprite_train_speed.py --data data/sprites [--seconds 40] [--threads 2]

Each row builds a fresh pipeline, runs the real training step (`training/train_sprite.py`'s loss, AdamW,
EMA, attention kernel) for a warm-up of 5 steps (and the compile, for `compile` rows), then counts samples for
`--seconds`. `bf16` is training's `--bf16` (bfloat16 autocast, fast on CPUs with AMX or AVX-512 BF16), which
trains with PyTorch's math attention kernel on a CPU; `bf16 flash attention` keeps the kernel PyTorch picks by
itself, as fp32 training does.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixelforge.backends.sprite.presets import build_pipeline
from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
from training.train_sprite import (
    _attention_kernels,
    _loss,
    concept_weights,
    ema_update,
    load_dataset,
    prepare,
    sample_batch,
)

ROWS = [("cpu", 64, ""), ("cpu", 64, "channels_last"), ("cpu", 128, ""), ("cpu", 64, "compile"), ("cpu", 64, "bf16"),
        ("wide", 64, ""), ("wide", 64, "bf16 flash attention"), ("wide", 64, "bf16"), ("wide", 128, "bf16"),
        ("gpu", 64, ""), ("gpu", 64, "bf16")]


def measure(data_dir: Path, preset: str, batch: int, option: str, seconds: float, threads: int) -> float:
    torch.set_num_threads(threads)
    images, captions, concepts, _ = load_dataset(data_dir)
    vocab = SpriteTokenizer.build_vocab(c for cs in captions for c in cs)
    pipe = build_pipeline(vocab, preset)
    data = prepare(images, captions, concept_weights(concepts), pipe.tokenizer, "cpu")
    model = torch.nn.ModuleDict({"unet": pipe.unet, "text_encoder": pipe.text_encoder}).train()
    if option == "channels_last":
        model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.compile(_loss) if option == "compile" else _loss
    gen = torch.Generator().manual_seed(0)

    def step(i: int) -> None:
        x0, ids, mask = sample_batch(data, batch, gen)
        if option == "channels_last":
            x0 = x0.contiguous(memory_format=torch.channels_last)
        bf16 = option.startswith("bf16")
        attention = contextlib.nullcontext() if "flash attention" in option else _attention_kernels("cpu", bf16)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), attention:
            loss = loss_fn(model, x0, ids, mask, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_update(ema, model, i, 0.999)

    for i in range(5):
        step(i)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step(steps)
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/sprites"))
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"| preset | batch | option | samples/s ({args.threads} threads) |\n|---|---|---|---|")
    for preset, batch, option in ROWS:
        rate = measure(args.data, preset, batch, option, args.seconds, args.threads)
        print(f"| {preset} | {batch} | {option or 'eager'} | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
