"""Turn fake pixel art (off-grid, blurry, hundreds of colours) into true pixel art.

NumPy, Pillow and SciPy only: no torch, no web imports, so the server, the engine and the CLI can all use it.
"""

from .errors import PixelArtError
from .manifest import PixelManifest, PixelMetrics
from .options import PixelOptions
from .palettes import BUILTIN_PALETTES, load_palette
from .pipeline import MAX_PIXELS, PixelResult, load_image, pixelate, sprite_sheet, validate_options

__all__ = [
    "BUILTIN_PALETTES",
    "MAX_PIXELS",
    "PixelArtError",
    "PixelManifest",
    "PixelMetrics",
    "PixelOptions",
    "PixelResult",
    "load_image",
    "load_palette",
    "pixelate",
    "sprite_sheet",
    "validate_options",
]
