"""Train the sprite model for a fixed wall-clock budget and write a shippable pipeline directory.

    # the real model (issue 3), on one GPU:
    python training/train_sprite.py --data data/sprites --out out/sprite-gpu --preset gpu --minutes 20
    # the CPU preview shipped until then:
    python training/train_sprite.py --data data/sprites --out out/sprite-cpu --preset cpu --minutes 18 --threads 1
    # the test: a few steps on a synthetic dataset
    python training/train_sprite.py --smoke --out /tmp/sprite-smoke

Flow matching in pixel space: x_t = (1 - sigma) x0 + sigma noise, the UNet predicts v = noise - x0 at
timestep 1000 sigma, which is what FlowMatchEulerDiscreteScheduler integrates at inference.
The whole dataset and every tokenised caption live on the device; a step only indexes tensors.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixelforge.backends.sprite.pipeline import SpritePipeline
from pixelforge.backends.sprite.presets import PRESETS, build_pipeline
from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
from training.model_card import write_card

CAPTION_DROPOUT = 0.1  # share of samples trained on the empty prompt: the unconditional branch of CFG


@dataclass
class TrainData:
    images: torch.Tensor  # (N, 4, 32, 32) in [-1, 1]
    caption_ids: torch.Tensor  # (C, L) every caption of every sprite, tokenised once
    caption_mask: torch.Tensor  # (C, L)
    first_caption: torch.Tensor  # (N,) index into caption_ids of the sprite's first caption
    caption_count: torch.Tensor  # (N,)
    empty_ids: torch.Tensor  # (1, L) the empty prompt
    empty_mask: torch.Tensor


def load_dataset(data_dir: Path) -> tuple[np.ndarray, list[list[str]]]:
    """Training split only: held-out sprites are never seen, not even their words."""
    arrays = np.load(data_dir / "sprites.npz")
    records = json.loads((data_dir / "captions.json").read_text())
    keep = ~arrays["held_out"]
    return arrays["images"][keep], [r["captions"] for r, k in zip(records, keep, strict=True) if k]


def synthetic_dataset(n: int = 12) -> tuple[np.ndarray, list[list[str]]]:
    """Coloured squares and discs: enough for the smoke test to exercise every code path."""
    colours = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 80, 220)}
    yy, xx = np.mgrid[:32, :32]
    images, captions = [], []
    for i in range(n):
        name, rgb = list(colours.items())[i % 3]
        shape = "disc" if i % 2 else "square"
        inside = (yy - 16) ** 2 + (xx - 16) ** 2 < 100 if shape == "disc" else (abs(yy - 16) < 9) & (abs(xx - 16) < 9)
        img = np.zeros((32, 32, 4), np.uint8)
        img[inside] = (*rgb, 255)
        images.append(img)
        captions.append([f"{name} {shape}", shape])
    return np.stack(images), captions


def prepare(images: np.ndarray, captions: list[list[str]], tokenizer: SpriteTokenizer, device: str) -> TrainData:
    flat = [c for cs in captions for c in cs]
    tok = tokenizer(flat, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt")
    empty = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt")
    counts = torch.tensor([len(cs) for cs in captions])
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return TrainData(
        images=pixels.to(device),
        caption_ids=tok.input_ids.to(device),
        caption_mask=tok.attention_mask.to(device),
        first_caption=(torch.cumsum(counts, 0) - counts).to(device),
        caption_count=counts.to(device),
        empty_ids=empty.input_ids.to(device),
        empty_mask=empty.attention_mask.to(device),
    )


def sample_batch(data: TrainData, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    device = data.images.device
    idx = torch.randint(0, data.images.shape[0], (batch,), device=device, generator=generator)
    pick = (torch.rand(batch, device=device, generator=generator) * data.caption_count[idx]).long()
    cap = data.first_caption[idx] + pick
    ids, mask = data.caption_ids[cap], data.caption_mask[cap]
    drop = torch.rand(batch, device=device, generator=generator) < CAPTION_DROPOUT
    ids = torch.where(drop[:, None], data.empty_ids, ids)
    mask = torch.where(drop[:, None], data.empty_mask, mask)
    return data.images[idx], ids, mask


def lr_at(progress: float, peak: float, warmup: float = 0.03) -> float:
    """Linear warm-up, then cosine to zero, over the fraction of the time budget spent."""
    if progress < warmup:
        return peak * progress / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, step: int, max_decay: float) -> None:
    # The (1 + step) / (10 + step) ramp lets a short run's EMA follow the weights instead of the initialisation.
    decay = min(max_decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1 - decay)


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    images, captions = synthetic_dataset() if args.smoke else load_dataset(args.data)
    vocab = SpriteTokenizer.build_vocab(c for cs in captions for c in cs)
    pipe = build_pipeline(vocab, args.preset)
    data = prepare(images, captions, pipe.tokenizer, device)

    # One module holding both trained parts, so the optimiser and the EMA treat them as one model.
    model = torch.nn.ModuleDict({"unet": pipe.unet, "text_encoder": pipe.text_encoder}).to(device).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99),
                                  fused=device == "cuda")
    step_fn = torch.compile(_loss) if args.compile else _loss
    gen = torch.Generator(device).manual_seed(args.seed)
    budget = args.minutes * 60
    start = time.perf_counter()
    step, losses = 0, []
    while True:
        elapsed = time.perf_counter() - start
        if (args.max_steps and step >= args.max_steps) or (not args.max_steps and elapsed >= budget):
            break
        progress = step / args.max_steps if args.max_steps else elapsed / budget
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress, args.lr)
        x0, ids, mask = sample_batch(data, args.batch, gen)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = step_fn(model, x0, ids, mask, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema_update(ema, model, step, args.ema)
        step += 1
        if step % args.log_every == 0:
            losses.append(loss.item())
            print(f"step {step} {elapsed / 60:.1f} min loss {losses[-1]:.4f} lr {optimizer.param_groups[0]['lr']:.2e}",
                  flush=True)
    losses.append(loss.item())
    minutes = (time.perf_counter() - start) / 60
    pipe.unet, pipe.text_encoder = ema["unet"], ema["text_encoder"]
    pipe.register_modules(unet=ema["unet"], text_encoder=ema["text_encoder"])
    save(pipe, args.out)
    stats = {
        "run": args.name, "preset": args.preset, "device": _device_name(device, args.threads), "minutes": minutes,
        "steps": step, "batch": args.batch, "samples_seen": step * args.batch, "sprites": len(images),
        "vocab": len(vocab), "final_loss": sum(losses[-5:]) / len(losses[-5:]), "command": " ".join(sys.argv),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (args.out / "training.json").write_text(json.dumps(stats, indent=1))
    write_card(args.out, stats)
    print(json.dumps(stats))
    return stats


def _loss(model: torch.nn.ModuleDict, x0: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor,
          gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x0.shape, device=x0.device, generator=gen)
    # Logit-normal sigmas (as in SD3): most samples at mid noise, where the prompt decides the picture.
    sigma = torch.sigmoid(torch.randn(x0.shape[0], device=x0.device, generator=gen))
    s = sigma[:, None, None, None]
    x_t = (1 - s) * x0 + s * noise
    text = model["text_encoder"](ids, mask)
    v = model["unet"](x_t, sigma * 1000, encoder_hidden_states=text.last_hidden_state, encoder_attention_mask=mask,
                      class_labels=text.pooled).sample
    return torch.nn.functional.mse_loss(v.float(), noise - x0)


def save(pipe: SpritePipeline, out: Path) -> None:
    # fp16 on disk halves the shipped size; SpritePipeline.from_pretrained loads it back as float32.
    for module in (pipe.unet, pipe.text_encoder):
        module.to("cpu").half()
    pipe.save_pretrained(out)


def _device_name(device: str, threads: int) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"CPU, {threads} thread{'s' if threads > 1 else ''}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/sprites"))
    parser.add_argument("--out", type=Path, default=Path("out/sprite"))
    parser.add_argument("--name", default=None, help="run name for the model card (default: sprite-<preset>)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock training budget")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps instead of the time budget")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ema", type=float, default=0.999, help="largest EMA decay")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (CPU training only)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training step (GPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="a few CPU steps of the tiny preset on synthetic data")
    args = parser.parse_args(argv)
    if args.smoke:
        args.preset, args.max_steps, args.batch, args.log_every = "tiny", 3, 8, 1
    args.name = args.name or f"sprite-{args.preset}"
    return args


if __name__ == "__main__":
    train(parse_args())
