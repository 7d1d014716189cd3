"""The one exception the pixel-art stage raises for bad input."""


class PixelArtError(ValueError):
    """A problem with the caller's input (image, palette, options), worded for the end user."""
