"""Evaluate a sprite pipeline: retrieval on fixed and held-out prompts, everyday and game prompts, variety.

    python training/eval_sprite.py --model out/sprite2 --data data/sprites2 --card --sheet docs/sprite-contact-sheet.png
    python training/eval_sprite.py --model pixelforge/backends/sprite/weights --data data/sprites2 --json v1.json

For each of 64 fixed prompts (sprite names drawn with a fixed seed) it generates 4 images and asks whether
the nearest sprite in RGBA space (L2 over uint8 pixels) carries the prompt among its captions. Training
prompts search the training sprites; held-out prompts search every sprite, so a held-out prompt only
scores when the model generalises to a concept it never saw. The random baseline is the chance that a
uniformly drawn candidate carries the prompt.

Everyday and game prompts (sprite_eval_prompts.py) are phrasings that are not verbatim captions (articles,
adjectives, synonyms, Chinese); an image counts when the nearest sprite of all carries the prompt's key noun
among its caption words. Variety: for those prompts, the number of distinct nearest sprites among the four
seeds (1: four copies of one picture; 4: four different ones).
`--parts everyday,game` runs only those parts (a quick look at a training snapshot).
Comparing two models means evaluating both on the same --data. `--card` writes <model>/eval.json and the
model card (a model of one's own); `--json` writes the results anywhere (the shipped weights stay untouched).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pixelforge.backends.sprite import SpritePipeline
from pixelforge.backends.vocabulary import singular, words
from training.model_card import write_card
from training.sprite_eval_prompts import EVERYDAY, GAME

PROMPTS = 64
IMAGES_PER_PROMPT = 4
PARTS = ("held_out", "everyday", "game", "train")  # in the order they run


@dataclass
class Sprites:
    images: np.ndarray  # (N, 32, 32, 4) uint8
    captions: list[set[str]]
    names: list[str]
    held_out: np.ndarray  # (N,) bool


def load_sprites(data_dir: Path) -> Sprites:
    arrays = np.load(data_dir / "sprites.npz")
    records = json.loads((data_dir / "captions.json").read_text())
    return Sprites(arrays["images"], [set(r["captions"]) for r in records], [r["name"] for r in records],
                   arrays["held_out"])


def fixed_prompts(sprites: Sprites, held_out: bool, n: int = PROMPTS, seed: int = 0) -> list[str]:
    """Names of `n` sprites of one split, drawn with a fixed seed.

    Skin-tone variants are left out of the draw: they are half the emoji, and a prompt such as "thumbs up
    medium skin tone" would mostly measure whether 32×32 pixels keep five shades of hand apart.
    """
    pool = sorted({name for name, h in zip(sprites.names, sprites.held_out, strict=True)
                   if bool(h) == held_out and "skin tone" not in name})
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def nearest(generated: np.ndarray, candidates: Sprites) -> np.ndarray:
    """Index of the candidate nearest to each generated sprite (L2 over uint8 RGBA)."""
    flat = candidates.images.reshape(len(candidates.images), -1).astype(np.float32)
    gen = generated.reshape(len(generated), -1).astype(np.float32)
    # |g|² is the same for every candidate of one image, so the argmin needs only -2 g·c + |c|².
    return (-2 * gen @ flat.T + (flat**2).sum(1)[None, :]).argmin(1)


def retrieval(generated: np.ndarray, prompt: str, candidates: Sprites) -> tuple[float, float]:
    """(share of `generated` whose nearest candidate carries `prompt`, chance of a random candidate doing so)."""
    carries = np.array([prompt in c for c in candidates.captions])
    return float(carries[nearest(generated, candidates)].mean()), float(carries.mean())


def key_noun_hit(generated: np.ndarray, keys: frozenset[str], candidates: Sprites) -> float:
    """Share of `generated` whose nearest candidate has one of `keys` among its caption words (plurals folded)."""
    def hit(captions: set[str]) -> bool:
        return any((singular(w, keys) or w) in keys for caption in captions for w in words(caption))

    return float(np.mean([hit(candidates.captions[i]) for i in nearest(generated, candidates)]))


def subset(sprites: Sprites, mask: np.ndarray) -> Sprites:
    idx = np.flatnonzero(mask)
    return Sprites(sprites.images[idx], [sprites.captions[i] for i in idx], [sprites.names[i] for i in idx],
                   sprites.held_out[idx])


def generate(pipe: SpritePipeline, prompt: str, seed: int, steps: int, guidance: float) -> np.ndarray:
    generators = [torch.Generator().manual_seed(seed + i) for i in range(IMAGES_PER_PROMPT)]
    out = pipe(prompt, num_images_per_prompt=IMAGES_PER_PROMPT, generator=generators, num_inference_steps=steps,
               guidance_scale=guidance, output_type="np")
    return (out.images * 255).round().astype(np.uint8)


def contact_sheet(rows: list[tuple[str, np.ndarray]], columns: int = 3, scale: int = 2) -> Image.Image:
    """Tiles of IMAGES_PER_PROMPT sprites (nearest-upscaled) over their prompt, on a light checker-free grey."""
    font = _label_font()
    tile_w, sprite_h, label_h, pad = IMAGES_PER_PROMPT * 32 * scale, 32 * scale, 14, 8
    tile_h = sprite_h + label_h
    n_rows = -(-len(rows) // columns)
    sheet = Image.new("RGBA", (columns * (tile_w + pad) + pad, n_rows * (tile_h + pad) + pad), (236, 236, 236, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (prompt, images) in enumerate(rows):
        x = pad + (k % columns) * (tile_w + pad)
        y = pad + (k // columns) * (tile_h + pad)
        for j, image in enumerate(images):
            sprite = Image.fromarray(image, "RGBA").resize((32 * scale, 32 * scale), Image.Resampling.NEAREST)
            sheet.alpha_composite(sprite, (x + j * 32 * scale, y))
        draw.text((x, y + sprite_h + 1), prompt[:40], fill=(40, 40, 40, 255), font=font)
    # 256 colours keep the README image small; the sprites themselves are never quantised.
    return sheet.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)


def _label_font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    # Chinese prompts need a CJK font (Debian fonts-noto-cjk); Pillow's built-in font draws Latin only.
    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                 "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"):
        if Path(path).is_file():
            return ImageFont.truetype(path, 11)
    return ImageFont.load_default()


def distinct_nearest(generated: np.ndarray, candidates: Sprites) -> int:
    """How many different sprites the images are nearest to: the variety of one prompt across seeds."""
    return len(set(nearest(generated, candidates).tolist()))


def prompt_set(pipe: SpritePipeline, prompts: list[tuple[str, frozenset[str]]], sprites: Sprites, first_seed: int,
               args: argparse.Namespace) -> tuple[dict[str, float], list[int], list[tuple[str, np.ndarray]]]:
    """(hit share per prompt, distinct nearest sprites per prompt, sheet rows) for key-noun prompts."""
    hits, distinct, rows = {}, [], []
    for k, (prompt, keys) in enumerate(prompts):
        images = generate(pipe, prompt, first_seed + 10 * k, args.steps, args.guidance)
        hits[prompt] = key_noun_hit(images, keys, sprites)
        distinct.append(distinct_nearest(images, sprites))
        rows.append((prompt, images))
    return hits, distinct, rows


def retrieval_split(pipe: SpritePipeline, sprites: Sprites, split: str, args: argparse.Namespace, results: dict
                    ) -> None:
    """Top-1 retrieval of one split's fixed prompts: training prompts search the training sprites, held-out
    prompts every sprite."""
    held_out = split == "held_out"
    candidates = sprites if held_out else subset(sprites, ~sprites.held_out)
    scores, baselines = [], []
    for k, prompt in enumerate(fixed_prompts(sprites, held_out, args.prompts)):
        images = generate(pipe, prompt, 1000 * k, args.steps, args.guidance)
        score, baseline = retrieval(images, prompt, candidates)
        scores.append(score)
        baselines.append(baseline)
    accuracy, baseline = float(np.mean(scores)), float(np.mean(baselines))
    results[f"{split}_accuracy"], results[f"{split}_baseline"] = accuracy, baseline
    print(f"{split}: top-1 retrieval {accuracy:.3f} (random {baseline:.4f})", flush=True)
    _write_partial(args, results)


def evaluate(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    pipe = SpritePipeline.from_pretrained(args.model).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    sprites = load_sprites(args.data)
    results: dict = {"command": " ".join(sys.argv), "data": str(args.data), "sprites": len(sprites.images),
                     "prompts": args.prompts, "images_per_prompt": IMAGES_PER_PROMPT, "steps": args.steps,
                     "guidance_scale": args.guidance}
    sheet_rows: list[tuple[str, np.ndarray]] = []
    variety: list[int] = []
    # Held-out retrieval first, then the key-noun prompts, training retrieval last: on a shared machine a run
    # may be cut short, and this is the order of what the figures are for (generalisation, then use, then memory).
    if "held_out" in args.parts:
        retrieval_split(pipe, sprites, "held_out", args, results)
    for name, prompts, first_seed in (("everyday", EVERYDAY, 7000), ("game", GAME, 9000)):
        if name not in args.parts:
            continue
        hits, distinct, rows = prompt_set(pipe, prompts, sprites, first_seed, args)
        results[f"{name}_prompts"] = len(prompts)
        results[f"{name}_hit_rate"] = float(np.mean(list(hits.values())))
        results[f"{name}_hits"] = hits
        variety += distinct
        sheet_rows += rows
        results["distinct_per_four_seeds"] = float(np.mean(variety))
        print(f"{name} prompts: key noun hit rate {results[f'{name}_hit_rate']:.3f}; distinct nearest sprites per "
              f"four seeds so far {results['distinct_per_four_seeds']:.2f}", flush=True)
        _write_partial(args, results)
    if "train" in args.parts:
        retrieval_split(pipe, sprites, "train", args, results)
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(sheet_rows).save(args.sheet, optimize=True)
    if args.card:
        (args.model / "eval.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
        write_card(args.model)
    return results


def _write_partial(args: argparse.Namespace, results: dict) -> None:
    # After each part, so a run cut short (a shared machine, a deadline) still leaves what it measured.
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a SpritePipeline directory")
    parser.add_argument("--data", type=Path, default=Path("data/sprites"))
    parser.add_argument("--sheet", type=Path, default=None, help="write the contact sheet PNG here")
    parser.add_argument("--prompts", type=int, default=PROMPTS, help="retrieval prompts per split")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--card", action="store_true",
                        help="write <model>/eval.json and regenerate its model card")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device to generate on (cpu, cuda); seeds are drawn "
                        "on the CPU either way, so the images of one seed match across devices up to rounding")
    parser.add_argument("--parts", type=parse_parts, default=PARTS,
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)}); a quick look at a "
                             "training snapshot needs only everyday,game")
    args = parser.parse_args(argv)
    if args.card and args.parts != PARTS:
        parser.error("--card needs every part (--parts left out): the model card reports them all")
    return args


def parse_parts(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown) or '(none given)'}: "
                                         f"choose from {', '.join(PARTS)}")
    return tuple(p for p in PARTS if p in parts)


if __name__ == "__main__":
    evaluate(parse_args())
