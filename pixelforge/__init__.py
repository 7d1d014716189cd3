"""pixelforge: pixel-art generation you can watch live and stop at any moment.

The public names are imported lazily, so that ``import pixelforge.tasks`` (what the server uses)
never pulls in torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Pixelforge": "pixelforge.api",
    "TaskHandle": "pixelforge.api",
    "GeneratedImage": "pixelforge.api",
    "StopToken": "pixelforge.tasks.stop",
    "EarlyStop": "pixelforge.engine.control",
    "StepInfo": "pixelforge.engine.control",
    "Settings": "pixelforge.config",
    "TaskParams": "pixelforge.tasks.model",
    "Img2ImgOptions": "pixelforge.tasks.model",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pixelforge' has no attribute {name!r}")
    return getattr(import_module(module), name)
