"""Clients see server paths relative to their roots (models/…, data/…), never absolute ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from serverkit import QUICK, submit, wait_finished

from pixelforge.config import Settings
from pixelforge.shown_paths import shown_path, without_server_paths
from pixelforge.testing.live_server import LiveServer


def test_paths_are_shown_relative_to_their_root(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", extra_model_roots=[tmp_path / "shared"])
    assert shown_path(tmp_path / "data" / "models" / "pixel-xl", settings) == "models/pixel-xl"
    assert shown_path(tmp_path / "data" / "images" / "a.png", settings) == "data/images/a.png"
    assert shown_path(tmp_path / "shared" / "x", settings) == "shared/x"
    assert shown_path("/somewhere/else/model", settings) == "model"
    assert shown_path("sprite", settings) == "sprite" and shown_path("org/repo", settings) == "org/repo"
    message = f"could not load the pipeline in {tmp_path}/data/models/m: no file {tmp_path}/data/models/m/x.bin"
    assert without_server_paths(message, settings) == (
        "could not load the pipeline in models/m: no file models/m/x.bin")
    assert str(tmp_path) not in without_server_paths(f"'{tmp_path}/data' is read-only", settings)


def _absolute(value: str, live: LiveServer) -> bool:
    return value.startswith("/") or str(live.runtime.settings.data_dir) in value


def test_model_lists_show_no_absolute_paths(keyed: LiveServer, alice: httpx.Client) -> None:
    models = alice.get("/api/v1/models").json()
    assert models and not any(_absolute(model["source"], keyed) for model in models)
    sd_models = alice.get("/sdapi/v1/sd-models").json()
    assert sd_models and not any(_absolute(model["filename"], keyed) for model in sd_models)


def test_a_task_error_shows_no_absolute_path(keyed: LiveServer, alice: httpx.Client, tiny_qwen_dir: Path) -> None:
    corrupt = keyed.runtime.settings.models_root / "corrupt-for-paths"
    shutil.copytree(tiny_qwen_dir, corrupt)
    for weights in (corrupt / "transformer").glob("*.safetensors"):
        with weights.open("r+b") as handle:  # cut short, as a copy that stopped half-way
            handle.truncate(weights.stat().st_size // 2)
    task = wait_finished(alice, submit(alice, model="corrupt-for-paths")["id"])
    assert task["state"] == "failed" and "models/corrupt-for-paths" in task["error"], task["error"]
    assert str(keyed.runtime.settings.data_dir) not in task["error"]
    assert str(keyed.runtime.settings.data_dir) not in task["progress"]["textinfo"]
    assert wait_finished(alice, submit(alice, **QUICK)["id"])["state"] == "completed"
