"""The AUTOMATIC1111 routes that clients read at start-up and pixelforge has little behind.

webuiapi, SillyTavern, Krita and Photoshop plug-ins list VAEs, upscalers, embeddings, styles and
extensions before their first request; an answer in A1111's shape (an empty list where pixelforge has
nothing of the kind) lets them start instead of failing on a 404. What each route means here is said in
the README's compatibility section.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

import pixelforge
from pixelforge.procmem import current_rss_mb, machine_memory_mb
from pixelforge.server.deps import Caller, State

router = APIRouter(tags=["automatic1111"])
MIB = 2**20


class CmdFlags(BaseModel):
    """Only what a client may act on: no paths, no keys."""

    api: bool = True
    nowebui: bool = False
    device: str = Field(description="The configured device: auto, cpu, cuda, cuda:1, mps.")
    pixelforge: str = Field(description="pixelforge's version.")


class Embeddings(BaseModel):
    loaded: dict[str, Any] = {}
    skipped: dict[str, Any] = {}


class RamFigures(BaseModel):
    free: float
    used: float
    total: float


class CudaUnavailable(BaseModel):
    error: str


class Memory(BaseModel):
    ram: RamFigures
    cuda: CudaUnavailable


@router.get("/sdapi/v1/sd-vae", summary="VAEs to choose from (none: each model uses its own)")
def sd_vae(caller: Caller) -> list[dict[str, str]]:
    return []


@router.get("/sdapi/v1/upscalers", summary="Upscalers (none: pixel art is upscaled by whole multiples, nearest)")
def upscalers(caller: Caller) -> list[dict[str, Any]]:
    return []


@router.get("/sdapi/v1/latent-upscale-modes", summary="Latent upscale modes of hires. fix (none: no hires. fix here)")
def latent_upscale_modes(caller: Caller) -> list[dict[str, str]]:
    return []


@router.get("/sdapi/v1/realesrgan-models", summary="Real-ESRGAN models (none)")
def realesrgan_models(caller: Caller) -> list[dict[str, Any]]:
    return []


@router.get("/sdapi/v1/embeddings", summary="Textual-inversion embeddings (none)")
def embeddings(caller: Caller) -> Embeddings:
    return Embeddings()


@router.get("/sdapi/v1/hypernetworks", summary="Hypernetworks (none)")
def hypernetworks(caller: Caller) -> list[dict[str, str]]:
    return []


@router.get("/sdapi/v1/face-restorers", summary="Face restorers (none)")
def face_restorers(caller: Caller) -> list[dict[str, str]]:
    return []


@router.get("/sdapi/v1/prompt-styles", summary="Saved prompt styles (none)")
def prompt_styles(caller: Caller) -> list[dict[str, str]]:
    return []


@router.get("/sdapi/v1/extensions", summary="Installed extensions (none)")
def extensions(caller: Caller) -> list[dict[str, Any]]:
    return []


@router.get("/sdapi/v1/cmd-flags", summary="How the server was started, in A1111's flag names")
def cmd_flags(state: State, caller: Caller) -> CmdFlags:
    return CmdFlags(device=state.settings.device, pixelforge=pixelforge.__version__)


@router.post("/sdapi/v1/refresh-checkpoints", summary="Re-read the models (always current here)")
def refresh_checkpoints(caller: Caller) -> None:
    return None


@router.post("/sdapi/v1/refresh-loras", summary="Re-read the LoRAs (always current here)")
def refresh_loras(caller: Caller) -> None:
    return None


@router.get("/sdapi/v1/memory", summary="RAM of the server process; VRAM per task is in each task's stats")
def memory(caller: Caller) -> Memory:
    used = current_rss_mb() * MIB
    machine = machine_memory_mb()
    total = machine[0] * MIB if machine else used
    free = machine[1] * MIB if machine else 0.0
    # A1111 answers {"error": ...} under "cuda" when it cannot read CUDA; the API process here never
    # touches the GPU (the engine does), so that is always the answer, and VRAM peaks are per task.
    return Memory(ram=RamFigures(free=free, used=used, total=total),
                  cuda=CudaUnavailable(error="the API process does not use CUDA; peak VRAM is in each task's stats"))
