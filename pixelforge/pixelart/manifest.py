"""What the pixel-art stage detected and delivered, written next to the images as JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PixelMetrics(BaseModel):
    """Quality scores that need no ground truth, tracked by ``benchmarks/pixelart_bench.py``."""

    model_config = ConfigDict(extra="forbid")

    grid_contrast: float = Field(
        description="Mean colour step across the grid lines over the mean step elsewhere, each in grey levels and "
        "at least 1 (1 = no grid; a clean upscale scores its mean step across the lines)."
    )
    cell_spread: float = Field(description="Mean absolute deviation (0..255) inside the sampled cell centres.")
    reconstruction_delta_e: float = Field(description="Mean ΔE76 between the input and the re-expanded sprite.")
    speckle_rate: float = Field(description="Share of opaque pixels that match none of their 4 neighbours.")


class PixelManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_size: tuple[int, int] = Field(description="Input (width, height) in pixels.")
    size: tuple[int, int] = Field(description="Sprite (width, height): one pixel per detected cell.")
    pitch: float = Field(description="Image pixels per art pixel; 1.0 when no grid was found.")
    phase: tuple[float, float] = Field(description="(x, y) of a grid line, in image pixels, within [0, pitch).")
    confidence: float = Field(description="0..1: how much of the edge energy the grid explains beyond chance.")
    blur: tuple[float, float] = Field(
        description="Gaussian σ (image pixels) of the blur found in (luma, chroma) and undone when sampling."
    )
    pitch_source: Literal["manual", "expected", "detected", "none"]
    grid_fit: Literal["uniform", "per-line"] = Field(
        description="per-line: the grid drifts, and cell boundaries were fitted per column and per row around the "
        "mean pitch (`pitch` and `phase` are then those of the uniform grid they refine)."
    )
    colors_before: int = Field(description="Distinct colours in the input.")
    colors_after: int = Field(description="Distinct opaque colours in the sprite.")
    palette_name: str = Field(description="The fixed palette used, or 'adaptive'.")
    palette: list[str] = Field(description="The sprite's colours as #RRGGBB, darkest first.")
    background: str | None = Field(description="The background colour removed, if any.")
    transparent_pixels: int
    upscale: int = Field(description="Factor of the upscaled copy.")
    metrics: PixelMetrics
