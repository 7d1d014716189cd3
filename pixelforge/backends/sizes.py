"""Sizes a model with a native size can answer: it draws at that size, and the image is scaled up
(nearest) by one whole factor to the size asked for. No torch: submission checks use it too.

A sprite model trained at 32×32 draws noise at 512×512 (and takes minutes to do it), while a 32×32
sprite scaled 16× is what a client asking for 512×512 wants. The factor is one for both sides, so a
sprite is never stretched; a size that is not a whole multiple of the native one is refused.
"""

from __future__ import annotations


class SizeRefused(ValueError):
    """A size the model cannot make; ``field`` names the side ('width' or 'height')."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def native_scale(model: str, width: int | None, height: int | None, native: tuple[int, int]) -> int:
    """The whole factor k with (width, height) = k × native; a side left unset follows the other
    (both unset: 1). Raises SizeRefused naming the side that no factor fits."""
    factors: dict[str, int] = {}
    for field, asked, side in (("width", width, native[0]), ("height", height, native[1])):
        if asked is None:
            continue
        if asked % side:
            raise SizeRefused(field, f"model '{model}' draws {native[0]}×{native[1]} and scales that up by a whole "
                              f"factor: {asked} is not a multiple of {side}")
        factors[field] = asked // side
    if len(set(factors.values())) > 1:
        k = factors["width"]
        raise SizeRefused("height", f"model '{model}' draws {native[0]}×{native[1]} and scales both sides by the "
                          f"same factor (never stretched): for width {width} ask for height {k * native[1]}")
    return next(iter(factors.values()), 1)
