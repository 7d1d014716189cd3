"""AUTOMATIC1111's "infotext": the generation parameters written into each PNG and returned by the API."""

from __future__ import annotations

from typing import Any

from pixelforge.tasks.model import ResolvedParams, Task


def infotext(prompt: str, negative_prompt: str, resolved: ResolvedParams | None, seed: int) -> str:
    """``<prompt>\\nNegative prompt: <neg>\\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: WxH, Model: m``."""
    lines = [prompt]
    if negative_prompt:
        lines.append(f"Negative prompt: {negative_prompt}")
    fields: dict[str, Any] = {"Seed": seed}
    if resolved is not None:
        fields = {
            "Steps": resolved.steps,
            "Sampler": resolved.sampler_name,
            "CFG scale": resolved.cfg_scale,
            "Seed": seed,
            "Size": f"{resolved.width}x{resolved.height}",
            "Model": resolved.model,
        }
        if resolved.denoising_strength is not None:
            fields["Denoising strength"] = resolved.denoising_strength
        if resolved.lora:
            fields["Lora"] = f"{resolved.lora}:{resolved.lora_scale}"
    lines.append(", ".join(f"{key}: {_plain(value)}" for key, value in fields.items() if value is not None))
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def task_infotexts(task: Task) -> list[str]:
    """One infotext per image of a finished task, in image order."""
    params = task.params
    return [infotext(params.prompt, params.negative_prompt, task.resolved, image.seed) for image in task.images]
