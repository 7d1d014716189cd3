"""Model presets and model resolution. No torch: the server lists models through this module.

A model spec is one of: a preset name (``sprite``, ``qwen-image``), a local diffusers pipeline
directory (it holds ``model_index.json``), or a Hugging Face repo id that is already in the local
cache. Nothing is ever downloaded: a missing model is an error that says what to download.
"""

from __future__ import annotations

import json
import os
import struct
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from pixelforge.backends.families import ModelFamily, family_of
from pixelforge.backends.vocabulary import VOCAB_FILE, Vocabulary, VocabularySummary, WordReading
from pixelforge.config import Settings
from pixelforge.userpath import expand_user


class ModelNotFound(ValueError):
    """The model is not present locally; the message says what to download and where."""


class InvalidLora(ValueError):
    """A LoRA path that does not exist or is not a readable .safetensors file."""


class ModelPreset(BaseModel):
    name: str
    title: str
    description: str
    bundled: bool = Field(default=False, description="Its pipeline ships inside the package (sprite_weights_dir()); "
                          "else it is repo_id, from the local Hugging Face cache.")
    repo_id: str | None = Field(default=None, description="Hugging Face repo of the base pipeline.")
    lora_repo: str | None = None
    lora_file: str | None = None
    trigger: str = Field(default="", description="Words prepended to every prompt (the LoRA's trigger).")
    steps: int
    cfg_scale: float
    width: int
    height: int
    native_size: tuple[int, int] | None = Field(
        default=None, description="The one size the model draws at: another size asked for is drawn at this one and "
        "scaled up (nearest) by a whole factor (backends/sizes.py). None: it draws at any multiple of 16.")
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    pixel_pitch: float | None = Field(
        default=None, description="Nominal size of one art pixel in output pixels (None: output is already 1×)."
    )


def sprite_weights_dir() -> Path:
    """Directory of the bundled sprite pipeline (found without importing torch)."""
    return Path(str(resources.files("pixelforge.backends"))) / "sprite" / "weights"


PRESETS: dict[str, ModelPreset] = {
    "sprite": ModelPreset(
        name="sprite",
        title="pixelforge sprite (bundled)",
        description="Small text-to-sprite model shipped with pixelforge, trained on CPU from emoji: 32×32 RGBA, "
        "at most 16 colours, 0.5 to 1.5 s on a CPU. From short English or Chinese prompts it draws emoji-like "
        "people, faces, gestures, hearts, flags and buttons, and many animals and objects (cats, fish, apples, cars, "
        "suns, moons); some one-of-a-kind ones (pizza, houses, dogs) only in their colours; not scenes or characters "
        "in poses.",
        bundled=True,
        steps=20,
        cfg_scale=4.0,  # the evaluation's: at 3.0 retrieval was 0.590 (not 0.609), natural prompts 0.463 (not 0.512)
        width=32,
        height=32,
        native_size=(32, 32),
    ),
    "qwen-image": ModelPreset(
        name="qwen-image",
        title="Qwen-Image-2512 + Pixel-Art LoRA",
        description="Qwen/Qwen-Image-2512 with prithivMLmods/Qwen-Image-2512-Pixel-Art-LoRA (20B, needs a big GPU).",
        repo_id="Qwen/Qwen-Image-2512",
        lora_repo="prithivMLmods/Qwen-Image-2512-Pixel-Art-LoRA",
        lora_file="Qwen-Image-2512-Master-Pixel-Art-LoRA.safetensors",
        trigger="Pixel Art",
        steps=50,
        cfg_scale=4.0,
        width=1328,
        height=1328,
        dtype="bfloat16",
        pixel_pitch=16.0,
    ),
}


class ResolvedModel(BaseModel):
    """Where a model spec points, checked to exist locally."""

    name: str
    path: Path
    preset: ModelPreset | None = None
    lora_path: Path | None = Field(default=None, description="The preset's LoRA file, when it has one.")

    @property
    def pipeline_class(self) -> str | None:
        """The pipeline's class name as its model_index.json gives it (None when that cannot be read)."""
        try:
            index = json.loads((self.path / "model_index.json").read_text())
        except (OSError, ValueError):
            return None
        return index.get("_class_name") if isinstance(index, dict) else None

    @property
    def family(self) -> ModelFamily:
        return family_of(self.pipeline_class)

    @property
    def takes_loras(self) -> bool:
        return self.family.takes_loras

    def vocabulary(self) -> Vocabulary | None:
        """The words it knows, for a family that reads words (None for the others, and when unreadable)."""
        if not self.family.reads_words:
            return None
        folder = self.path / "tokenizer"
        try:
            return _loaded_vocabulary(folder, (folder / VOCAB_FILE).stat().st_mtime_ns)
        except (OSError, ValueError):
            return None


@lru_cache(maxsize=8)
def _loaded_vocabulary(folder: Path, mtime_ns: int) -> Vocabulary:
    """One read of a tokenizer's files per version of them: the web UI asks for a prompt's words each time typing
    pauses, and the synonym table of a v2 model is ~1 MB of JSON."""
    del mtime_ns  # part of the cache key only: weights replaced in place are read again
    return Vocabulary.load(folder)


class ModelEntry(BaseModel):
    """One line of ``pixelforge models`` and of ``GET /api/v1/models``."""

    name: str = Field(description="Name to pass as a task's model.")
    title: str = Field(description="Human-readable name.")
    description: str = Field(description="What the model is good for.")
    available: bool = Field(description="Whether its weights are present locally (nothing is downloaded).")
    source: str = Field(description="Where the weights come from: bundled, a local path or a Hugging Face repo.")
    default: bool = Field(default=False, description="Whether tasks use it when they name no model.")
    problem: str | None = Field(default=None, description="Why it is unavailable and what to download.")
    native_size: tuple[int, int] | None = Field(
        default=None, description="The one size the model draws at (the sprite model's 32×32), else null: the web "
        "UI draws inpainting masks on this grid.")
    pixel_pitch: float | None = Field(
        default=None, description="Nominal size of one art pixel in output pixels, when the model paints pixel art "
        "larger than 1×; else null.")
    vocabulary: VocabularySummary | None = Field(
        default=None, description="For a model that reads words (the bundled sprite model): how many it knows; "
        "`GET /api/v1/models/{name}/words` tells how it reads a prompt. Null for models that read any text.")


def hf_cached_snapshot(repo_id: str, what: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise ModelNotFound(
            f"{what} '{repo_id}' is not in the local Hugging Face cache ({cache}). pixelforge never downloads "
            f"at run time; fetch it once with: huggingface-cli download {repo_id}"
        ) from exc


def resolve_model(spec: str) -> ResolvedModel:
    """Find a model locally; raises ModelNotFound with what to download."""
    preset = PRESETS.get(spec)
    if preset is not None and preset.bundled:
        path = sprite_weights_dir()
        if not (path / "model_index.json").is_file():
            raise ModelNotFound(f"the bundled sprite model is missing from {path}; reinstall pixelforge")
        return ResolvedModel(name=spec, path=path, preset=preset)
    if preset is not None:
        assert preset.repo_id is not None
        path = hf_cached_snapshot(preset.repo_id, f"model of preset '{spec}'")
        lora_path = None
        if preset.lora_repo and preset.lora_file:
            lora_dir = hf_cached_snapshot(preset.lora_repo, f"LoRA of preset '{spec}'")
            lora_path = lora_dir / preset.lora_file
            if not lora_path.is_file():
                raise ModelNotFound(
                    f"{preset.lora_file} is missing from the cached {preset.lora_repo}; fetch it with: "
                    f"huggingface-cli download {preset.lora_repo} {preset.lora_file}"
                )
        return ResolvedModel(name=spec, path=path, preset=preset, lora_path=lora_path)
    local = expand_user(spec)
    try:
        is_dir, exists = local.is_dir(), local.exists()
    except OSError:  # a name the file system refuses (a part over 255 bytes, ...) names no model
        is_dir = exists = False
    if is_dir:
        if not (local / "model_index.json").is_file():
            raise ModelNotFound(f"{local} is a directory but not a diffusers pipeline (no model_index.json)")
        return ResolvedModel(name=local.name, path=local.resolve())
    if spec.count("/") == 1 and not exists:
        return ResolvedModel(name=spec, path=hf_cached_snapshot(spec, "model"))
    names = ", ".join(PRESETS)
    raise ModelNotFound(
        f"unknown model '{spec}': use a preset ({names}), a local diffusers pipeline directory, "
        "or a Hugging Face repo id that is in the local cache"
    )


def _entry(name: str, title: str, description: str, source: str, default: bool) -> ModelEntry:
    """Where ``name`` resolves on this machine, or why it does not (``source`` says what to fetch)."""
    preset = PRESETS.get(name)
    grid = {"native_size": preset.native_size, "pixel_pitch": preset.pixel_pitch} if preset else {}
    try:
        resolved = resolve_model(name)
    except ModelNotFound as exc:
        return ModelEntry(name=name, title=title, description=description, available=False, source=source,
                          default=default, problem=str(exc), **grid)
    vocabulary = resolved.vocabulary()
    return ModelEntry(name=name, title=title, description=description, available=True, source=str(resolved.path),
                      default=default, vocabulary=vocabulary.summary() if vocabulary else None, **grid)


def list_models(settings: Settings) -> list[ModelEntry]:
    entries = [
        _entry(
            preset.name,
            preset.title,
            preset.description,
            str(sprite_weights_dir()) if preset.bundled else str(preset.repo_id),
            default=preset.name == settings.model,
        )
        for preset in PRESETS.values()
    ]
    if settings.model not in PRESETS:
        entries.append(_entry(settings.model, settings.model, "Configured default model.", settings.model, True))
    return entries


class PromptWords(BaseModel):
    """How a model reads a prompt (``GET /api/v1/models/{name}/words``, ``pixelforge models --words``)."""

    model: str
    vocabulary: VocabularySummary | None = Field(description="Null for a model that reads any text.")
    words: list[WordReading] = Field(description="The prompt's words but function words, in order; none for a "
                                     "model that reads any text.")


def prompt_words(settings: Settings, name: str, prompt: str) -> PromptWords:
    """How the model ``name`` (one that ``list_models`` lists) reads ``prompt``; ModelNotFound for another name
    or a model whose weights are not here."""
    if name not in PRESETS and name != settings.model:
        raise ModelNotFound(f"unknown model '{name}'")
    vocabulary = resolve_model(name).vocabulary()
    if vocabulary is None:
        return PromptWords(model=name, vocabulary=None, words=[])
    return PromptWords(model=name, vocabulary=vocabulary.summary(), words=vocabulary.read(prompt))


def check_lora_file(path: str) -> Path:
    """Cheap, torch-free validation of a LoRA file: exists and has a well-formed safetensors header."""
    lora = expand_user(path)
    try:
        is_file = lora.is_file()
    except OSError:  # a name the file system refuses (a part over 255 bytes, ...)
        is_file = False
    if not is_file:
        raise InvalidLora(f"LoRA file not found: {lora}")
    if lora.suffix != ".safetensors":
        raise InvalidLora(f"LoRA must be a .safetensors file: {lora}")
    try:
        with lora.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len <= 0 or header_len > 100_000_000:
                raise ValueError("header length out of range")
            header = json.loads(handle.read(header_len))
        if not isinstance(header, dict) or not any(k != "__metadata__" for k in header):
            raise ValueError("no tensors")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidLora(f"LoRA file is not a valid .safetensors file ({exc}): {lora}") from exc
    except OSError as exc:  # not readable by this user
        raise InvalidLora(f"LoRA file cannot be read ({exc.strerror}): {lora}") from exc
    return lora
