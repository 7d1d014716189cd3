"""Fixtures shared by every test package: a tiny Qwen-Image pipeline saved offline, and runtimes on it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pixelforge.backends.presets import ModelNotFound, resolve_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# `pixelforge generate` uses a server running on this machine when it finds one; tests never pick up a
# developer's server by accident (the CLI tests that want one say where it is).
os.environ.setdefault("PIXELFORGE_SERVER", "none")


@pytest.fixture
def run_coroutine() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Runs a coroutine to its end on a thread of its own: an earlier test of the session (Playwright's
    sync API) may leave an event loop running on the main thread, where asyncio.run refuses to start."""

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result(timeout=60)

    return run


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Qwen-Image pipeline (same classes as the real one) saved with save_pretrained."""
    from pixelforge.testing.tiny_qwen import save_tiny_qwen_pipeline

    return save_tiny_qwen_pipeline(tmp_path_factory.mktemp("tiny-qwen") / "pipeline")


@pytest.fixture(scope="session")
def tiny_lora(tiny_qwen_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pixelforge.testing.tiny_qwen import save_tiny_lora

    return save_tiny_lora(tiny_qwen_dir, tmp_path_factory.mktemp("lora") / "tiny_lora.safetensors")


@pytest.fixture(scope="session")
def server_model(request: pytest.FixtureRequest) -> str:
    """Model of the live-server suites: the bundled sprite model if installed, else the tiny Qwen-Image pipeline."""
    try:
        resolve_model("sprite")
    except ModelNotFound:
        return str(request.getfixturevalue("tiny_qwen_dir"))
    return "sprite"


@pytest.fixture
def make_runtime(tmp_path: Path, tiny_qwen_dir: Path) -> Iterator:
    """Build (and afterwards stop) Runtimes on the tiny pipeline, each in its own data dir by default."""
    from pixelforge.config import Settings
    from pixelforge.runtime import Runtime

    made: list[Runtime] = []

    def make(start: bool = True, **overrides) -> Runtime:
        values = {"data_dir": tmp_path / "data", "model": str(tiny_qwen_dir), "preview_every": 2} | overrides
        runtime = Runtime(Settings(**values))
        made.append(runtime)
        if start:
            runtime.start()
        return runtime

    yield make
    for runtime in made:
        if runtime.started:
            runtime.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One real redis-server for the session (a free loopback port, its own data dir); tests keep apart
    by namespace."""
    from pixelforge.testing.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()
