"""What the caller can ask of the pixel-art stage. Embedded in task parameters as ``pixel: PixelOptions | None``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .color import hex_to_rgb


class PixelOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the pixel-art stage at all.")
    pitch: float | None = Field(
        None,
        description="Manual override: the size of one art pixel in image pixels (fractional allowed, must be > 1). "
        "The grid phase is still detected.",
    )
    expected_pitch: float | None = Field(
        None,
        description="The pitch (> 1) the generator should have used (model preset and size); the detector searches "
        "near it instead of over the whole range. Ignored when `pitch` is set.",
    )
    adaptive_grid: bool = Field(
        True,
        description="Fit the cell boundaries per column and per row when the grid drifts (cells a pixel wider here "
        "than there, offset rows); the uniform grid stays when it explains the image as well. False: always uniform.",
    )
    colors: int | None = Field(
        16,
        ge=1,
        le=256,
        description="Colour budget for an adaptive palette; None picks the count automatically. "
        "Ignored when `palette` is set.",
    )
    palette: str | None = Field(
        None,
        description="A fixed palette: a built-in name (pico-8, db16, db32, endesga-32, gameboy, slso8) "
        "or a path to a Lospec .hex or GIMP .gpl file.",
    )
    dither: Literal["none", "ordered"] = Field(
        "none", description="'ordered' applies a 4×4 Bayer dither between the two nearest palette colours."
    )
    remove_background: bool = Field(
        True,
        description="Make the background transparent: a flood fill from the image border that stops at the "
        "sprite's outline, or at a body of a colour of its own however close (a white sprite on off-white). "
        "Background-coloured regions inside the sprite (eyes, windows, a white body) stay.",
    )
    remove_enclosed: bool = Field(
        False,
        description="Also remove background-coloured regions of 4 cells or more that the border flood cannot "
        "reach, such as a ring's hole. Off by default: in most sprites those regions are part of the art.",
    )
    background_tolerance: float = Field(
        12.0,
        ge=0,
        le=100,
        description="The most (ΔE76) a cell may differ from the background colour and still be removed; "
        "the flood uses less when the border's own colours vary less.",
    )
    outline: str | None = Field(
        None, description="Hex colour (#RRGGBB) of an optional 1-px outline drawn around the opaque shape."
    )
    upscale: int = Field(
        0,
        ge=0,
        le=32,
        description="Nearest-neighbour factor for the upscaled copy; 0 = the detected pitch rounded (at least 2), "
        "so the copy is about the size of the input.",
    )

    # pitch <= 1 is deliberately not a field constraint: `pixelate` rejects it with a PixelArtError, the one
    # error type callers catch for bad input.

    @field_validator("outline")
    @classmethod
    def _valid_outline(cls, value: str | None) -> str | None:
        if value is not None:
            hex_to_rgb(value)  # raises ValueError, which pydantic reports as a validation error
        return value
