"""The model card (README.md) of a sprite pipeline directory, rebuilt from its training.json and eval.json.

Training writes training.json, evaluation writes eval.json; both then call `write_card`, so the card always
states the numbers of the weights next to it and never a number from another run.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_card(pipeline_dir: Path, training: dict | None = None) -> None:
    training = training or json.loads((pipeline_dir / "training.json").read_text())
    eval_path = pipeline_dir / "eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.is_file() else None
    (pipeline_dir / "README.md").write_text(render(training, evaluation))


def training_stages(training: dict) -> list[dict]:
    """Every stage, first to last: each run's ``warm_start`` is the run it started from (nested)."""
    earlier = training.get("warm_start")
    return [*(training_stages(earlier) if earlier else []), training]


def render(training: dict, evaluation: dict | None) -> str:
    stages = training_stages(training)
    total_minutes = sum(stage["minutes"] for stage in stages)
    # One device for the whole lineage only when every stage ran on it; each stage's own is listed below.
    devices = {stage["device"] for stage in stages}
    trained_on = f" on {training['device']}" if len(devices) == 1 else ""
    lines = [
        f"# {training['run']}",
        "",
        "A text-to-sprite diffusion model: 32×32 RGBA pixel art with binary alpha and at most 16 colours, from a",
        "short English or Chinese prompt. A diffusers `SpritePipeline` (pixelforge.backends.sprite): a",
        "`UNet2DConditionModel` in RGBA pixel space, a word-level text encoder of its own trained jointly with it,",
        "`FlowMatchEulerDiscreteScheduler`, classifier-free guidance with the empty prompt.",
        "",
        f"Trained for {total_minutes:.0f} minutes in all{trained_on}"
        + (f", in {len(stages)} stages (below)." if len(stages) > 1 else "."),
        "",
        "What it knows: emoji-like sprites — families that share one structure (people, faces, gestures,",
        "hearts, flags, buttons) best, then animals and objects; some one-of-a-kind objects (food, tools,",
        "buildings) come out only in their colours, as speckle. What it does not: scenes, several objects in a",
        "layout, characters in poses, text; prompts far from emoji captions give an emoji-like guess.",
        *_natural_prompt_summary(evaluation),
        "",
        "## Data",
        "",
        f"{training['sprites']} sprites ({training.get('concepts', training['sprites'])} distinct concepts): the",
        "fully-qualified emoji of Noto Color Emoji (Debian `fonts-noto-color-emoji`) that the font draws as one",
        "glyph, rendered by `training/build_sprite_dataset.py` (crop, square, area downscale, binary alpha), minus",
        "a 10 % held-out split chosen by hash. Captions: the emoji package's names and aliases plus Unicode CLDR's",
        "English and Chinese names and keywords (Debian `unicode-cldr-core`). Skin-tone variants of one emoji",
        "share one concept and are sampled as one.",
        "",
        "## Licence",
        "",
        "The training images come from Noto Color Emoji, © Google, SIL Open Font License 1.1. The weights are",
        "distributed with pixelforge under Apache-2.0.",
        "",
        "## Training",
        "",
    ]
    for number, stage in enumerate(stages, 1):
        prefix = f"{number}. " if len(stages) > 1 else "- "
        lines += [
            f"{prefix}`python {stage['command']}`: preset `{stage['preset']}`, {stage['parameters'] / 1e6:.2f} M "
            f"parameters, vocabulary of {stage['vocab']} words; {stage['steps']} steps at batch {stage['batch']} "
            f"({stage['samples_seen']} samples) in {stage['minutes']:.1f} min on {stage['device']}; final loss "
            f"{stage['final_loss']:.4f}."
            + (f" It was {stage['resumed']}." if "resumed" in stage else ""),
        ]
    if len(stages) > 1:
        lines += ["", "Each stage starts from the weights of the one before: the UNet whole, or grown into a wider",
                  "preset's UNet (training/widen.py: every old channel becomes two), and the text encoder's words",
                  "where the vocabulary kept them (a grown vocabulary's new words start fresh)."]
    lines += [
        "",
        "EMA weights stored as fp16 safetensors; `SpritePipeline.from_pretrained` loads them as float32.",
        "",
        "## Evaluation",
        "",
    ]
    if evaluation is None:
        lines.append("Not evaluated yet: run `python training/eval_sprite.py --model <this directory>`.")
        return "\n".join(lines) + "\n"
    lines += [
        f"`python {evaluation['command']}`: {evaluation['prompts']} fixed prompts from the training captions, "
        f"{evaluation['images_per_prompt']} images each, {evaluation['steps']} steps, guidance "
        f"{evaluation['guidance_scale']}.",
        "",
        "| metric | model | random baseline |",
        "|---|---|---|",
        f"| top-1 retrieval accuracy, training prompts | {evaluation['train_accuracy']:.3f} | "
        f"{evaluation['train_baseline']:.4f} |",
        f"| top-1 retrieval accuracy, held-out prompts | {evaluation['held_out_accuracy']:.3f} | "
        f"{evaluation['held_out_baseline']:.4f} |",
    ]
    if "natural_hit_rate" in evaluation:
        lines.append(f"| natural prompts ({evaluation['natural_prompts']}, not captions): nearest sprite carries "
                     f"the key noun | {evaluation['natural_hit_rate']:.3f} | |")
    lines += [
        "",
        "Retrieval: an image counts as correct when the nearest sprite (L2 in RGBA) carries the prompt among",
        "its captions; training prompts search the training sprites, held-out prompts search all sprites.",
    ]
    if "natural_hits" in evaluation:
        per_prompt = evaluation["images_per_prompt"]
        heading = f"Natural prompts, share of the {per_prompt} images whose nearest sprite carries the key noun:"
        lines += ["", heading, ""]
        lines += [f"- {prompt}: {hit:.2f}" for prompt, hit in evaluation["natural_hits"].items()]
    return "\n".join(lines) + "\n"


def _natural_prompt_summary(evaluation: dict | None) -> list[str]:
    """Which of the evaluation's everyday prompts it draws and which not yet, from the scores themselves."""
    hits = (evaluation or {}).get("natural_hits")
    if not hits:
        return []
    drawn = ", ".join(f"“{prompt}”" for prompt, hit in hits.items() if hit >= 0.75) or "none"
    missed = ", ".join(f"“{prompt}”" for prompt, hit in hits.items() if hit == 0) or "none"
    return ["", f"Of the {len(hits)} everyday prompts of the evaluation, at least three quarters of the images show "
            f"what was asked for with {drawn}; not one does with {missed}."]
