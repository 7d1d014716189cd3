"""pixelforge: pixel-art generation you can watch live and stop at any moment."""

__version__ = "0.1.0"
