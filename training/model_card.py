"""The model card (README.md) of a sprite pipeline directory, rebuilt from its training.json and eval.json.

Training writes training.json, evaluation writes eval.json; both then call `write_card`, so the card always
states the numbers of the weights next to it and never a number from another run.
"""

from __future__ import annotations

import json
from pathlib import Path

GPU_RUN = "python training/train_sprite.py --data data/sprites --out out/sprite-gpu --preset gpu --minutes 20"


def write_card(pipeline_dir: Path, training: dict | None = None) -> None:
    training = training or json.loads((pipeline_dir / "training.json").read_text())
    eval_path = pipeline_dir / "eval.json"
    evaluation = json.loads(eval_path.read_text()) if eval_path.is_file() else None
    (pipeline_dir / "README.md").write_text(render(training, evaluation))


def render(training: dict, evaluation: dict | None) -> str:
    cpu = not training["device"].startswith(("NVIDIA", "Tesla")) and "GPU" not in training["device"]
    lines = [
        f"# {training['run']}",
        "",
        "A text-to-sprite diffusion model: 32×32 RGBA pixel art with binary alpha, from a short English prompt.",
        "A diffusers `SpritePipeline` (pixelforge.backends.sprite): a `UNet2DConditionModel` in RGBA pixel space,",
        "a word-level text encoder of its own trained jointly with it, `FlowMatchEulerDiscreteScheduler`,",
        "classifier-free guidance with the empty prompt.",
        "",
    ]
    if cpu:
        lines += [
            f"**This is a CPU preview, not the GPU-trained model of issue 3.** It was trained for "
            f"{training['minutes']:.0f} minutes on {training['device']}, so that pixelforge works out of the box "
            "until a GPU session trains the real one with:",
            "",
            f"    {GPU_RUN}",
            "",
        ]
    lines += [
        "## Data",
        "",
        f"{training['sprites']} sprites: the fully-qualified emoji of Noto Color Emoji (Debian",
        "`fonts-noto-color-emoji`) that the font draws as one glyph, rendered by",
        "`training/build_sprite_dataset.py` (crop, square, area downscale, binary alpha), minus a 10 % held-out",
        "split chosen by hash. Captions: the CLDR names and aliases from the `emoji` package.",
        "",
        "## Licence",
        "",
        "The training images come from Noto Color Emoji, © Google, SIL Open Font License 1.1. The weights are",
        "distributed with pixelforge under Apache-2.0.",
        "",
        "## Training",
        "",
        f"- command: `python {training['command']}`",
        f"- preset `{training['preset']}`, {training['parameters'] / 1e6:.2f} M parameters, vocabulary of "
        f"{training['vocab']} words",
        f"- {training['steps']} steps at batch {training['batch']} ({training['samples_seen']} samples) in "
        f"{training['minutes']:.1f} min on {training['device']}; final loss {training['final_loss']:.4f}",
        "- EMA weights stored as fp16 safetensors; `SpritePipeline.from_pretrained` loads them as float32",
        "",
        "## Evaluation",
        "",
    ]
    if evaluation is None:
        lines.append("Not evaluated yet: run `python training/eval_sprite.py --model <this directory>`.")
    else:
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
            "",
            "Retrieval: an image counts as correct when the nearest sprite (L2 in RGBA) carries the prompt among",
            "its captions; training prompts search the training sprites, held-out prompts search all sprites.",
        ]
        if cpu:
            lines += ["", "At this much training the samples are coloured, sprite-shaped blobs that do not yet follow "
                      "the prompt; expect real pictures only from the GPU run."]
    return "\n".join(lines) + "\n"
