"""Train the sprite model for a fixed wall-clock budget and write a shippable pipeline directory.

    # the real model (issue 3), on one GPU:
    python training/train_sprite.py --data data/sprites --out out/sprite-gpu --preset gpu --minutes 20
    # on a 2-core CPU, continuing from a warm start, resumable (re-run the same command with --resume):
    python training/train_sprite.py --data data/sprites --out out/sprite-wide --preset wide --minutes 120 \
        --threads 2 --batch 64 --lr 1e-3 --init-from pixelforge/backends/sprite/weights --resume
    # the test: a few steps on a synthetic dataset
    python training/train_sprite.py --smoke --out /tmp/sprite-smoke

Flow matching in pixel space: x_t = (1 - sigma) x0 + sigma noise, the UNet predicts v = noise - x0 at
timestep 1000 sigma, which is what FlowMatchEulerDiscreteScheduler integrates at inference.
The whole dataset and every tokenised caption live on the device; a step only indexes tensors.

Every `--checkpoint-minutes` the run writes `<out>/checkpoint.pt` (weights, EMA, optimiser, step, elapsed
time, RNG states) and an EMA pipeline snapshot under `<out>/snapshots/`; `--resume` continues from the
checkpoint with the same time budget and learning-rate schedule, as if never stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixelforge.backends.sprite.pipeline import SpritePipeline
from pixelforge.backends.sprite.presets import PRESETS, build_pipeline
from pixelforge.backends.sprite.styles import style_table, style_token
from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
from training.model_card import write_card
from training.widen import grow
from training.wordnet_links import nearest_known

CAPTION_DROPOUT = 0.1  # share of samples trained on the empty prompt: the unconditional branch of CFG
CHECKPOINT = "checkpoint.pt"
LINKS_FILE = "wordnet_links.json"  # written by training/sprite_dataset.py


@dataclass
class TrainData:
    images: torch.Tensor  # (N, 4, 32, 32) in [-1, 1]
    caption_ids: torch.Tensor  # (C, L) every caption of every sprite, tokenised once
    caption_mask: torch.Tensor  # (C, L)
    first_caption: torch.Tensor  # (N,) index into caption_ids of the sprite's first caption
    caption_count: torch.Tensor  # (N,)
    weights: torch.Tensor  # (N,) sampling weight: 1 / number of sprites of the same concept
    empty_ids: torch.Tensor  # (1, L) the empty prompt
    empty_mask: torch.Tensor


def load_dataset(data_dir: Path) -> tuple[np.ndarray, list[list[str]], list[str], list[str]]:
    """Training split only: held-out sprites are never seen, not even their words. Returns the images, their
    captions, concepts and sources (v1's dataset names no source: all "emoji")."""
    arrays = np.load(data_dir / "sprites.npz")
    records = json.loads((data_dir / "captions.json").read_text())
    keep = ~arrays["held_out"]
    kept = [r for r, k in zip(records, keep, strict=True) if k]
    return (arrays["images"][keep], [r["captions"] for r in kept], [r.get("concept", r.get("emoji")) for r in kept],
            [r.get("source", "emoji") for r in kept])


def concept_weights(concepts: list[str], sources: list[str] | None = None,
                    shares: dict[str, float] | None = None) -> torch.Tensor:
    """1 / group size: the five skin tones of one hand together weigh as much as one apple, and the six
    pictures of one emoji (font, twemoji, noto...) as much as one apple too.

    `shares` gives a source a fixed share of the samples ("dcss": 0.3): its concepts split that share; the
    sources it does not name split the rest by concept. Without it every concept weighs the same.
    """
    sizes = Counter(concepts)
    weights = torch.tensor([1.0 / sizes[c] for c in concepts])
    if not shares or sources is None:
        return weights
    groups = [s if s in shares else "" for s in sources]
    rest = 1.0 - sum(shares[g] for g in set(groups) if g)
    if rest < 0:
        raise SystemExit(f"--source-shares add up to more than 1: {shares}")
    concepts_per_group = Counter(g for g, _ in {(g, c) for g, c in zip(groups, concepts, strict=True)})
    scale = torch.tensor([(shares[g] if g else rest) / concepts_per_group[g] for g in groups])
    return weights * scale


def parse_shares(text: str) -> dict[str, float]:
    """"dcss=0.3,game-icons=0.2" → {"dcss": 0.3, "game-icons": 0.2}."""
    shares: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        source, _, share = item.partition("=")
        try:
            shares[source.strip()] = float(share)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: give SOURCE=SHARE, e.g. dcss=0.3") from None
    return shares


def synthetic_dataset(n: int = 12) -> tuple[np.ndarray, list[list[str]], list[str], list[str]]:
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
    return np.stack(images), captions, [f"{i % 6}" for i in range(n)], ["disc" if i % 2 else "square" for i in range(n)]


def prepare(images: np.ndarray, captions: list[list[str]], weights: torch.Tensor, tokenizer: SpriteTokenizer,
            device: str, styles: list[str] | None = None) -> TrainData:
    """Everything a step indexes, on the device. With `styles` (one style token per sprite) every caption of a
    sprite ends with its token — after the caption's last word, or in the last place when the caption fills the
    sequence — so the token is never cut off by truncation."""
    flat = [c for cs in captions for c in cs]
    tok = tokenizer(flat, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt")
    if styles is not None:
        style_ids = torch.tensor([tokenizer.vocab[t] for t, cs in zip(styles, captions, strict=True) for _ in cs])
        rows = torch.arange(len(flat))
        place = tok.attention_mask.sum(1).clamp(max=tokenizer.model_max_length - 1)
        tok.input_ids[rows, place] = style_ids
        tok.attention_mask[rows, place] = 1
    empty = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt")
    counts = torch.tensor([len(cs) for cs in captions])
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return TrainData(
        images=pixels.to(device),
        caption_ids=tok.input_ids.to(device),
        caption_mask=tok.attention_mask.to(device),
        first_caption=(torch.cumsum(counts, 0) - counts).to(device),
        caption_count=counts.to(device),
        weights=weights.to(device),
        empty_ids=empty.input_ids.to(device),
        empty_mask=empty.attention_mask.to(device),
    )


def sample_batch(data: TrainData, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    device = data.images.device
    idx = torch.multinomial(data.weights, batch, replacement=True, generator=generator)
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
    images, captions, concepts, sources = synthetic_dataset() if args.smoke else load_dataset(args.data)
    styles = [style_token(s) for s in sources] if args.style_tokens else None
    vocab = SpriteTokenizer.build_vocab([*(c for cs in captions for c in cs), *sorted(set(styles or []))])
    pipe = build_pipeline(vocab, args.preset)
    if styles is not None:
        pipe.tokenizer.with_styles(style_table(captions, sources, pipe.tokenizer.vocabulary))
        print(f"style tokens: {', '.join(sorted(set(styles)))}", flush=True)
    links_file = None if args.smoke else args.data / LINKS_FILE
    links = json.loads(links_file.read_text()) if links_file is not None and links_file.is_file() else {}
    if links:
        # The synonym table ships with the weights: a prompt word never trained on becomes the nearest known one.
        pipe.tokenizer.with_synonyms(nearest_known(links, vocab))
        print(f"synonym table: {len(pipe.tokenizer.synonyms)} words mapped onto the vocabulary", flush=True)
    known_ids: list[int] = []
    if args.init_from:
        known_ids = warm_start(pipe, SpritePipeline.from_pretrained(args.init_from), links)
    elif args.keep_known_words:
        raise SystemExit("--keep-known-words needs --init-from: the words to keep are the warm start's")
    data = prepare(images, captions, concept_weights(concepts, sources, args.source_shares), pipe.tokenizer, device,
                   styles)

    # One module holding both trained parts, so the optimiser and the EMA treat them as one model.
    model = torch.nn.ModuleDict({"unet": pipe.unet, "text_encoder": pipe.text_encoder}).to(device).train()
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    # Two groups, so the UNet can learn slower than the text encoder (--unet-lr-scale) when a warm start's
    # drawing should be kept while new words are learnt.
    groups = [{"params": list(pipe.unet.parameters()), "lr_scale": args.unet_lr_scale},
              {"params": list(pipe.text_encoder.parameters()), "lr_scale": 1.0}]
    if args.keep_known_words:
        groups[1] = {"params": [keep_known_words(pipe.text_encoder, known_ids)], "lr_scale": 1.0,
                     "weight_decay": 0.0}  # decay would shrink the kept rows, whose gradient is zero
    optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99), fused=device == "cuda")
    step_fn = torch.compile(_loss) if args.compile else _loss
    # bf16 autocast always on CUDA; on a CPU only when asked (--bf16), since only CPUs with AVX-512 BF16 or AMX
    # gain from it (and there with the math attention kernel: _attention_kernels).
    autocast = device == "cuda" or args.bf16
    gen = torch.Generator(device).manual_seed(args.seed)
    state = RunState()
    checkpoint = args.out / CHECKPOINT
    if args.resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, ema, optimizer, gen, vocab)
        print(f"resumed at step {state.step}, {state.elapsed / 60:.1f} min", flush=True)
    budget = args.minutes * 60
    start = time.perf_counter() - state.elapsed
    last_checkpoint = time.perf_counter()
    loss = torch.tensor(float("nan"))
    while True:
        elapsed = time.perf_counter() - start
        step = state.step
        if (args.max_steps and step >= args.max_steps) or (not args.max_steps and elapsed >= budget):
            break
        progress = step / args.max_steps if args.max_steps else elapsed / budget
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress, args.lr, args.warmup) * group["lr_scale"]
        x0, ids, mask = sample_batch(data, args.batch, gen)
        if args.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast), _attention_kernels(device, autocast):
            loss = step_fn(model, x0, ids, mask, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema_update(ema, model, step, args.ema)
        state.step = step + 1
        if state.step % args.log_every == 0:
            state.losses.append(loss.item())
            print(f"step {state.step} {elapsed / 60:.1f} min loss {state.losses[-1]:.4f} "
                  f"lr {optimizer.param_groups[1]['lr']:.2e}", flush=True)
        if args.checkpoint_minutes and time.perf_counter() - last_checkpoint >= args.checkpoint_minutes * 60:
            state.elapsed = time.perf_counter() - start
            save_checkpoint(checkpoint, state, model, ema, optimizer, gen, vocab)
            save(pipeline_with(pipe, ema), args.out / "snapshots" / f"step{state.step:07d}")
            last_checkpoint = time.perf_counter()
    if not math.isnan(loss.item()):
        state.losses.append(loss.item())
    state.elapsed = time.perf_counter() - start
    if args.checkpoint_minutes:
        save_checkpoint(checkpoint, state, model, ema, optimizer, gen, vocab)
    final = pipeline_with(pipe, ema)
    save(final, args.out)
    tail = state.losses[-5:] or [float("nan")]
    stats = {
        "run": args.name, "preset": args.preset, "device": _device_name(device, args.threads, autocast),
        "minutes": state.elapsed / 60, "steps": state.step, "batch": args.batch,
        "samples_seen": state.step * args.batch, "sprites": len(images), "concepts": len(set(concepts)),
        "vocab": len(vocab), "final_loss": sum(tail) / len(tail), "command": " ".join(sys.argv),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if args.source_shares:
        stats["source_shares"] = args.source_shares
    if styles is not None:
        stats["style_tokens"] = sorted(set(styles))
    if args.unet_lr_scale != 1.0:
        stats["unet_lr_scale"] = args.unet_lr_scale
    if args.keep_known_words:
        stats["keep_known_words"] = True
    credits_file = None if args.smoke else args.data / "credits.json"
    if credits_file is not None and credits_file.is_file():
        stats["credits"] = json.loads(credits_file.read_text())
    source_record = args.init_from / "training.json" if args.init_from else None
    if source_record is not None and source_record.is_file():
        stats["warm_start"] = json.loads(source_record.read_text())
    (args.out / "training.json").write_text(json.dumps(stats, indent=1))
    write_card(args.out, stats)
    print(json.dumps(stats))
    return stats


@dataclass
class RunState:
    """What a resumed run needs besides the tensors: where it was, and the losses it logged."""

    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, across resumes: the schedule runs on it
    losses: list[float] = field(default_factory=list)


def save_checkpoint(path: Path, state: RunState, model: torch.nn.Module, ema: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, gen: torch.Generator, vocab: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"step": state.step, "elapsed": state.elapsed, "losses": state.losses, "vocab": vocab,
               "model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
               "generator": gen.get_state(), "torch_rng": torch.get_rng_state()}
    # Written beside and renamed over: a run killed mid-write leaves the previous checkpoint intact.
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    partial.replace(path)


def load_checkpoint(path: Path, model: torch.nn.Module, ema: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    gen: torch.Generator, vocab: dict[str, int]) -> RunState:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload["vocab"] != vocab:
        raise SystemExit(f"{path} was trained on another vocabulary (another dataset?): start a new --out")
    model.load_state_dict(payload["model"])
    ema.load_state_dict(payload["ema"])
    optimizer.load_state_dict(payload["optimizer"])
    gen.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    return RunState(payload["step"], payload["elapsed"], payload["losses"])


def warm_start(pipe: SpritePipeline, source: SpritePipeline, links: dict[str, list[str]] | None = None
               ) -> list[int]:
    """Copy `source`'s weights into `pipe`: the UNet whole, or grown (training/widen.py) when `pipe`'s is wider;
    the text encoder whole except the word embeddings, which are copied word by word, so a grown vocabulary
    keeps every word it already knew. A new word with WordNet `links` starts as the first linked word the source
    knows ("goblet" as "cup"), so it means something from the first step; others start fresh."""
    try:
        grow(source.unet, pipe.unet)
    except ValueError as error:
        raise SystemExit(f"--init-from: its UNet cannot start this preset: {error}") from None
    target_vocab, source_vocab = pipe.tokenizer.get_vocab(), source.tokenizer.get_vocab()
    state = {k: v.float() for k, v in source.text_encoder.state_dict().items()}
    old = state.pop("token_embedding.weight")
    new = pipe.text_encoder.token_embedding.weight.detach().clone()
    shared = [(i, source_vocab[w]) for w, i in target_vocab.items() if w in source_vocab]
    linked = [(i, source_vocab[known]) for w, i in target_vocab.items() if w not in source_vocab
              for known in [next((k for k in (links or {}).get(w, []) if k in source_vocab), None)] if known]
    pairs = shared + linked
    new[[i for i, _ in pairs]] = old[[j for _, j in pairs]]
    state["token_embedding.weight"] = new
    pipe.text_encoder.load_state_dict(state)
    print(f"warm start: {len(shared)} of {len(target_vocab)} words known to the source, {len(linked)} more "
          "started from a linked word", flush=True)
    return sorted(i for i, _ in shared)


def keep_known_words(text_encoder: torch.nn.Module, known_ids: list[int]) -> torch.nn.Parameter:
    """Freeze the text encoder but the embeddings of new words: a prompt of words the warm start knew is read
    exactly as before, so what the model drew for it stays reachable while new words learn where to point.
    Returns the one parameter left to train."""
    text_encoder.requires_grad_(False)
    embedding: torch.nn.Parameter = text_encoder.token_embedding.weight
    embedding.requires_grad_(True)
    kept = torch.tensor(known_ids, dtype=torch.long, device=embedding.device)
    embedding.register_hook(lambda grad: grad.index_fill(0, kept, 0.0))
    return embedding


def pipeline_with(pipe: SpritePipeline, ema: torch.nn.ModuleDict) -> SpritePipeline:
    """A copy of `pipe` holding the EMA weights (the ones that ship), in contiguous float32."""
    unet, text_encoder = copy.deepcopy(ema["unet"]), copy.deepcopy(ema["text_encoder"])
    unet.to(memory_format=torch.contiguous_format)
    return SpritePipeline(unet=unet, text_encoder=text_encoder, tokenizer=pipe.tokenizer, scheduler=pipe.scheduler)


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


def _attention_kernels(device: str, autocast: bool) -> contextlib.AbstractContextManager:
    # On a CPU, PyTorch's flash-attention kernel has a slow bf16 backward (13x its fp32 one here): under bf16
    # autocast the math kernel trains the wide preset 1.2x faster. In fp32 flash is the faster one, so it stays.
    return sdpa_kernel(SDPBackend.MATH) if device == "cpu" and autocast else contextlib.nullcontext()


def save(pipe: SpritePipeline, out: Path) -> None:
    # fp16 on disk halves the shipped size; SpritePipeline.from_pretrained loads it back as float32.
    for module in (pipe.unet, pipe.text_encoder):
        module.to("cpu").half()
    pipe.save_pretrained(out)


def _device_name(device: str, threads: int, bf16: bool) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"CPU, {threads} thread{'s' if threads > 1 else ''}" + (", bf16 autocast" if bf16 else "")


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
    parser.add_argument("--compile", action="store_true", help="torch.compile the training step")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast on a CPU as well (always on CUDA): faster with AMX or AVX-512 BF16")
    parser.add_argument("--warmup", type=float, default=0.03, help="share of the budget spent warming up the lr")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="a SpritePipeline of the same preset, or a narrower one to grow, to start from "
                             "(e.g. the shipped weights)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt when present")
    parser.add_argument("--checkpoint-minutes", type=float, default=10.0,
                        help="write a checkpoint and an EMA snapshot this often (0: never)")
    parser.add_argument("--source-shares", type=parse_shares, default={},
                        help="fixed sample shares of some sources, e.g. dcss=0.3,game-icons=0.2 (the rest by concept)")
    parser.add_argument("--unet-lr-scale", type=float, default=1.0,
                        help="the UNet's learning rate as a share of --lr (the text encoder's): below 1 keeps a "
                             "warm start's drawing while the words learn")
    parser.add_argument("--keep-known-words", action="store_true",
                        help="with --init-from: freeze the text encoder but the embeddings of words the warm start "
                             "did not know, so prompts it could read are read as before")
    parser.add_argument("--style-tokens", action="store_true",
                        help="end every caption with its source's style token (\"apple twemoji\", \"apple dcss\"), so "
                             "the pictures of one concept in different sets are learnt apart instead of blurred "
                             "together; the model ships tokenizer/styles.json and draws each image in one style")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="a few CPU steps of the tiny preset on synthetic data")
    args = parser.parse_args(argv)
    if args.smoke:
        args.preset, args.batch, args.log_every = "tiny", 8, 1
        args.max_steps = args.max_steps or 3
    args.name = args.name or f"sprite-{args.preset}"
    return args


if __name__ == "__main__":
    train(parse_args())
