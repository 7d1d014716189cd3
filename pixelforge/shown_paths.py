"""Server paths as HTTP clients see them: relative to the root they are in (``models/pixel-xl``,
``loras/style.safetensors``, ``data/images/…``), never the server's absolute paths, which tell a
client the operator's user name and file system layout. Paths outside every root show their file name.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from huggingface_hub.constants import HF_HUB_CACHE

from pixelforge.config import Settings


def _roots(settings: Settings) -> list[tuple[str, str]]:
    """(absolute root, the name clients see) pairs, the most specific first: the models folder is inside the
    data folder by default."""
    roots = [(settings.models_root, "models"), (settings.loras_root, "loras"), (settings.data_dir, "data"),
             (Path(HF_HUB_CACHE), "hf-cache"), (Path(str(resources.files("pixelforge"))), "pixelforge"),
             *((root, root.name) for root in settings.extra_model_roots)]
    absolute = [(os.path.abspath(root), name) for root, name in roots]
    return sorted(absolute, key=lambda pair: len(pair[0]), reverse=True)


def shown_path(path: str | Path, settings: Settings) -> str:
    """One path as a client sees it; a name that is not an absolute path (a preset, a repo id) stays."""
    if not os.path.isabs(path):
        return str(path)
    absolute = os.path.abspath(path)
    for root, name in _roots(settings):
        if absolute == root or absolute.startswith(root + os.sep):
            return name + absolute[len(root):]
    return os.path.basename(absolute)


def without_server_paths(text: str, settings: Settings) -> str:
    """``text`` (an error message) with every root's absolute path replaced by the name clients see."""
    for root, name in _roots(settings):
        text = re.sub(re.escape(root) + r"(?=[/\\\s'\":,)]|$)", name, text)
    return text
