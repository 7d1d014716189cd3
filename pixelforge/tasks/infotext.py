"""AUTOMATIC1111's "infotext": the generation parameters written into each PNG and returned by the API."""

from __future__ import annotations

from typing import Any

from pixelforge.tasks.model import Task


def infotext(prompt: str, negative_prompt: str, info: dict[str, Any], seed: int) -> str:
    """``<prompt>\\nNegative prompt: <neg>\\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: WxH, Model: m``."""
    lines = [prompt]
    if negative_prompt:
        lines.append(f"Negative prompt: {negative_prompt}")
    fields = {
        "Steps": info.get("steps"),
        "Sampler": info.get("sampler_name"),
        "CFG scale": info.get("cfg_scale"),
        "Seed": seed,
        "Size": f"{info.get('width')}x{info.get('height')}",
        "Model": info.get("sd_model_name"),
    }
    if info.get("lora"):
        fields["Lora"] = f"{info['lora']}:{info.get('lora_scale', 1.0)}"
    lines.append(", ".join(f"{key}: {_plain(value)}" for key, value in fields.items() if value is not None))
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def task_infotexts(task: Task) -> list[str]:
    """One infotext per image of a finished task, in image order."""
    return [infotext(task.params.prompt, task.params.negative_prompt, task.info, image.seed) for image in task.images]
