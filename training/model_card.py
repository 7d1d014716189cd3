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
        *_what_it_knows(training, evaluation),
        *_style_tokens(training),
        "",
        "## Data",
        "",
        *_data_section(training),
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
    for kind in ("everyday", "game"):
        if f"{kind}_hit_rate" in evaluation:
            lines.append(f"| {kind} prompts ({evaluation[f'{kind}_prompts']}, not captions): nearest sprite carries "
                         f"the key noun | {evaluation[f'{kind}_hit_rate']:.3f} | |")
    if "distinct_per_four_seeds" in evaluation:
        lines.append(f"| distinct nearest sprites per four seeds (everyday and game prompts) | "
                     f"{evaluation['distinct_per_four_seeds']:.2f} | |")
    lines += [
        "",
        "Retrieval: an image counts as correct when the nearest sprite (L2 in RGBA) carries the prompt among",
        "its captions; training prompts search the training sprites, held-out prompts search all sprites.",
    ]
    for kind in ("natural", "everyday", "game"):
        if f"{kind}_hits" in evaluation:
            per_prompt = evaluation["images_per_prompt"]
            heading = (f"{kind.capitalize()} prompts, share of the {per_prompt} images whose nearest sprite carries "
                       "the key noun:")
            lines += ["", heading, ""]
            lines += [f"- {prompt}: {hit:.2f}" for prompt, hit in evaluation[f"{kind}_hits"].items()]
    return "\n".join(lines) + "\n"


V1_KNOWS = [
    "What it knows: emoji-like sprites — families that share one structure (people, faces, gestures,",
    "hearts, flags, buttons) best, then animals and objects; some one-of-a-kind objects (food, tools,",
    "buildings) come out only in their colours, as speckle. What it does not: scenes, several objects in a",
    "layout, characters in poses, text; prompts far from emoji captions give an emoji-like guess.",
]
V1_DATA = [
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
]


# SPDX identifiers of the sources' licences, spelt out as the credits list needs them.
LICENCE_NAMES = {
    "OFL-1.1": "SIL Open Font License 1.1", "CC-BY-4.0": "Creative Commons Attribution 4.0",
    "CC-BY-3.0": "Creative Commons Attribution 3.0", "MIT": "MIT licence", "Apache-2.0": "Apache License 2.0",
    "CC0-1.0": "CC0 1.0 (public domain dedication)",
}


def _what_it_knows(training: dict, evaluation: dict | None) -> list[str]:
    if "credits" not in training:
        return [*V1_KNOWS, *_natural_prompt_summary(evaluation)]
    lines = [
        "What it knows: the emoji concepts (in several emoji styles: say “emoji”), Dungeon Crawl Stone Soup's",
        "monsters, items and dungeon features (pixel art: say “pixel art”) and game-icons' objects (say “icon” or",
        "“silhouette”); colour words; a prompt word it never saw is mapped to the nearest word it knows (a WordNet",
        "synonym, else a hypernym: tokenizer/synonyms.json). What it does not: scenes, several objects in a",
        "layout, characters in poses, text.",
    ]
    for kind in ("everyday", "game"):
        lines += _prompt_summary(evaluation, kind)
    return lines


def _style_tokens(training: dict) -> list[str]:
    tokens = training.get("style_tokens")
    if not tokens:
        return []
    return ["", "Style tokens: every training caption ended with its picture set's token, so one concept's pictures in",
            "different sets were learnt apart; at generation each image gets one token, drawn with its seed among the",
            "sets whose captions hold the prompt's words (a style word narrows them: “pixel art”, “emoji”, “icon”;",
            "pixelforge/backends/sprite/styles.py). Name a token to choose its set: "
            + ", ".join(f"`{t}`" for t in tokens) + "."]


def _data_section(training: dict) -> list[str]:
    if "credits" not in training:
        return [f"{training['sprites']} sprites ({training.get('concepts', training['sprites'])} distinct concepts): "
                "the", *V1_DATA]
    credits = training["credits"]
    lines = [
        f"{training['sprites']} training sprites ({training.get('concepts', training['sprites'])} distinct "
        "concepts), built by `training/sprite_dataset.py`, minus a 10 % held-out split of concepts chosen by hash.",
        "Captions: names, categories, CLDR English and Chinese names and keywords, WordNet synonyms and hypernyms",
        "(Debian `wordnet-base`), a style word, colour words from each sprite's own colours, and a Chinese gloss.",
        "",
        "| source | licence | sprites | note |",
        "|---|---|---|---|",
        *(f"| {c['source']} {c.get('version', '')} | {c['licence']} | {c['count']} | {c.get('note', '')} |"
          for c in credits),
        "",
        "## Licence and credits",
        "",
        "The weights are distributed with pixelforge under Apache-2.0. They were trained on:",
        "",
        *(f"- {c['source']}, © {c['author'] or 'its authors'}, {LICENCE_NAMES.get(c['licence'], c['licence'])}"
          + (f" ({c['url']})" if c['url'] else "") for c in credits),
        "",
        "CC-BY sets are credited above as their licences require; no share-alike or GPL data was used.",
    ]
    return lines


def _prompt_summary(evaluation: dict | None, kind: str) -> list[str]:
    hits = (evaluation or {}).get(f"{kind}_hits")
    if not hits:
        return []
    drawn = ", ".join(f"“{prompt}”" for prompt, hit in hits.items() if hit >= 0.75) or "none"
    missed = ", ".join(f"“{prompt}”" for prompt, hit in hits.items() if hit == 0) or "none"
    return ["", f"Of the {len(hits)} {kind} prompts of the evaluation, at least three quarters of the images show "
            f"what was asked for with {drawn}; not one does with {missed}."]


def _natural_prompt_summary(evaluation: dict | None) -> list[str]:
    """v1's evaluation named its everyday prompts "natural"."""
    return [line.replace("natural prompts", "everyday prompts") for line in _prompt_summary(evaluation, "natural")]
