"""What an HTTP client may name as a model, a LoRA or a palette file.

Presets, the configured model, Hugging Face repos in the local cache, built-in palettes, and paths inside
the roots: the models folder and the LoRA folder (where a bare model, LoRA or palette file name is looked
up), the Hugging Face cache and the folders an operator adds (``extra_model_roots``). Nothing outside a
root is ever looked at, and every refusal reads the same whether or not something is there, so a client
cannot probe the server's file system. Containment is decided on the path as written (normalised, links
not followed): a link an operator puts inside a root is theirs to publish.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from huggingface_hub.constants import HF_HUB_CACHE

from pixelforge.backends.presets import PRESETS, ModelNotFound, hf_cached_snapshot
from pixelforge.config import Settings
from pixelforge.pixelart import BUILTIN_PALETTES
from pixelforge.tasks.model import Problem, TaskParams
from pixelforge.tasks.service import InvalidTask

REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")

# Where the folders are, said without the server's absolute paths (which tell a client the operator's file system).
MODELS_FOLDER = "the server's PIXELFORGE_MODELS_DIR, by default the data dir's models folder"
LORAS_FOLDER = "the server's PIXELFORGE_LORAS_DIR, by default the data dir's loras folder"


class Unreachable(ValueError):
    """A model or LoRA a client may not name, or that is not there: the same to the client."""


def _exists(path: Path, kind: str) -> bool:
    try:
        return path.is_dir() if kind == "dir" else path.is_file()
    except (OSError, ValueError):  # a part over 255 bytes, a NUL byte: nothing there either
        return False


class ModelRoots:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings  # read on every call: an operator may change the roots at run time

    def _inside(self, spec: str, home: Path) -> Path | None:
        """``spec`` as a path (a bare name lives in ``home``), or None when it falls outside every root."""
        roots = [home, Path(HF_HUB_CACHE), *self.settings.extra_model_roots]
        candidate = Path(os.path.normpath(os.path.join(os.path.abspath(home), spec)))
        for root in roots:
            if candidate.is_relative_to(os.path.abspath(root)):
                return candidate
        return None

    def model(self, spec: str) -> str:
        """What to store as the task's model: ``spec`` itself, or the absolute path it names."""
        if spec in PRESETS or spec == self.settings.model:
            return spec
        path = self._inside(spec, self.settings.models_root)
        if path is not None and _exists(path / "model_index.json", "file"):
            return str(path)
        if REPO_ID.fullmatch(spec) and ".." not in spec:
            try:
                hf_cached_snapshot(spec, "model")  # only the cache is looked at, not a folder of that name
                return spec
            except ModelNotFound:
                pass
        raise Unreachable(f"unknown model '{spec}': name a preset ({', '.join(PRESETS)}), a pipeline folder in "
                          f"the models folder ({MODELS_FOLDER}), or a Hugging Face repo in this "
                          "server's cache")

    def lora(self, spec: str) -> str:
        """The absolute path of the LoRA file ``spec`` names (the .safetensors suffix may be left out)."""
        for name in (spec, f"{spec}.safetensors"):
            path = self._inside(name, self.settings.loras_root)
            if name.endswith(".safetensors") and path is not None and _exists(path, "file"):
                return str(path)
        raise Unreachable(f"unknown LoRA '{spec}': name a .safetensors file in the LoRA folder "
                          f"({LORAS_FOLDER})")

    def palette(self, spec: str) -> str:
        """A built-in palette's name, or the absolute path of the ``.hex`` / ``.gpl`` file ``spec`` names."""
        if spec.strip().lower() in BUILTIN_PALETTES:
            return spec
        path = self._inside(spec, self.settings.models_root)
        if path is not None and path.suffix.lower() in {".hex", ".gpl"} and _exists(path, "file"):
            return str(path)
        raise Unreachable(f"unknown palette '{spec}': name a built-in one ({', '.join(BUILTIN_PALETTES)}) or a "
                          f".hex / .gpl file in the models folder ({MODELS_FOLDER})")

    def params(self, params: TaskParams) -> TaskParams:
        """``params`` with model, LoRA and palette file confined to the roots; InvalidTask names what is not
        reachable."""
        update: dict[str, object] = {}
        problems = []
        for field, confine in (("model", self.model), ("lora", self.lora)):
            spec = getattr(params, field)
            if spec is None:
                continue
            try:
                update[field] = confine(spec)
            except Unreachable as exc:
                problems.append(Problem(field=field, message=str(exc)))
        if params.pixel is not None and params.pixel.palette is not None:
            try:
                update["pixel"] = params.pixel.model_copy(update={"palette": self.palette(params.pixel.palette)})
            except Unreachable as exc:
                problems.append(Problem(field="pixel", message=str(exc)))
        if problems:
            raise InvalidTask(problems)
        return params.model_copy(update=update)
