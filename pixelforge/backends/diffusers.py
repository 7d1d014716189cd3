"""The diffusers backend: loads any local diffusers text-to-image pipeline, offline, with LoRAs.

One loaded pipeline at a time per worker (a worker owns one device); switching model frees the
old one first. LoRAs: the preset's own LoRA stays loaded as adapter ``preset``; a task's LoRA is
loaded as adapter ``task`` and unloaded when a task without it comes.
"""

from __future__ import annotations

import gc
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from pixelforge.backends.adapters import DiffusersModel, adapter_for
from pixelforge.backends.base import ModelLoadError
from pixelforge.backends.presets import InvalidLora, ResolvedModel, check_lora_file, resolve_model
from pixelforge.config import Settings

log = logging.getLogger(__name__)


class DeviceUnavailable(ValueError):
    """The configured device does not exist on this machine (a start-up error, said in one line)."""


def pick_device(setting: str) -> torch.device:
    """The device a setting names, checked to exist here: ``torch.device('cuda')`` alone succeeds on a
    machine without CUDA, and the first task would then fail deep inside the engine."""
    if setting != "auto":
        try:
            device = torch.device(setting)
        except RuntimeError as exc:
            raise DeviceUnavailable(f"unknown device {setting!r}: use auto, cpu, cuda, cuda:N or mps") from exc
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if (device.index or 0) >= count:
                raise DeviceUnavailable(
                    f"device {setting!r} is not available: this machine has {count} CUDA device(s); "
                    "use --device cpu (or auto)"
                )
        elif device.type == "mps":
            mps = getattr(torch.backends, "mps", None)
            if mps is None or not mps.is_available():
                raise DeviceUnavailable(f"device {setting!r} is not available on this machine; use --device cpu")
        elif device.type != "cpu":
            raise DeviceUnavailable(f"device {setting!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(setting: str, preset_dtype: str, device: torch.device) -> torch.dtype:
    if device.type == "cpu" and setting == "auto":
        return torch.float32
    dtype: torch.dtype = getattr(torch, preset_dtype if setting == "auto" else setting)
    return dtype


def _quiet_library_progress_bars() -> None:
    """Loading bars from diffusers/transformers would garble the CLI's own progress bar."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    # diffusers 0.42 renamed torch_dtype to dtype; older releases we support only know torch_dtype.
    warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)


class DiffusersBackend:
    def __init__(self, settings: Settings, device: torch.device | None = None) -> None:
        self.settings = settings
        self.device = device or pick_device(settings.device)
        self._model: DiffusersModel | None = None
        self._model_key: str | None = None
        self._task_lora: tuple[str, float] | None = None
        # Never the network: every load names a local path (a repo id is resolved in the cache first, by
        # resolve_model) with local_files_only, and a LoRA is a local file.
        _quiet_library_progress_bars()

    # --- loading ---------------------------------------------------------------------------
    def load(self, model: str, lora: str | None, lora_scale: float) -> DiffusersModel:
        resolved = resolve_model(model)
        key = str(resolved.path)
        if self._model is None or self._model_key != key:
            self.unload()
            self._model = self._load_pipeline(resolved)
            self._model_key = key
        self._apply_lora(self._model, lora, lora_scale)
        return self._model

    def _load_pipeline(self, resolved: ResolvedModel) -> DiffusersModel:
        preset = resolved.preset
        dtype = pick_dtype(self.settings.dtype, preset.dtype if preset else "float16", self.device)
        pipeline_class = resolved.family.loader_class()
        try:
            pipe = pipeline_class.from_pretrained(str(resolved.path), torch_dtype=dtype, local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(f"could not load the pipeline in {resolved.path}: {exc}") from exc
        pipe.set_progress_bar_config(disable=True)
        if self.settings.offload == "model" and self.device.type == "cuda":
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.settings.offload == "sequential" and self.device.type == "cuda":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        if resolved.lora_path is not None:
            self._load_adapter(pipe, resolved.lora_path, "preset")
            pipe.set_adapters(["preset"], [1.0])
        log.info("loaded %s (%s) on %s as %s", resolved.name, type(pipe).__name__, self.device, dtype)
        return adapter_for(resolved.name, pipe, self.device, preset)

    @staticmethod
    def _load_adapter(pipe: Any, path: Path, name: str) -> None:
        if not hasattr(pipe, "load_lora_weights"):
            raise ModelLoadError(f"{type(pipe).__name__} does not support LoRAs")
        try:
            pipe.load_lora_weights(str(path), adapter_name=name)
        except Exception as exc:  # peft and safetensors raise many types for a bad file
            raise InvalidLora(f"could not load LoRA {path}: {exc}") from exc

    def _apply_lora(self, model: DiffusersModel, lora: str | None, scale: float) -> None:
        pipe = model.pipe
        wanted = (str(check_lora_file(lora)), scale) if lora else None
        if wanted == self._task_lora:
            return
        has_preset_lora = self._has_adapter(pipe, "preset")
        if self._task_lora is not None:
            pipe.delete_adapters("task")
            self._task_lora = None
        if wanted is not None:
            self._load_adapter(pipe, Path(wanted[0]), "task")
            self._task_lora = wanted
        weights = ({"preset": 1.0} if has_preset_lora else {}) | ({"task": scale} if wanted else {})
        if weights:
            pipe.set_adapters(list(weights), list(weights.values()))

    @staticmethod
    def _has_adapter(pipe: Any, name: str) -> bool:
        get_list = getattr(pipe, "get_list_adapters", None)
        if get_list is None:
            return False
        return any(name in adapters for adapters in get_list().values())

    # --- freeing ---------------------------------------------------------------------------
    def release(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps":
            torch.mps.empty_cache()

    def unload(self) -> None:
        self._model = None
        self._model_key = None
        self._task_lora = None
        self.release()
