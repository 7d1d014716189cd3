"""Faults while tasks run: each fails its task with a clear error, and the next task runs.

Faults are raised from inside the work itself (a hook on the denoiser's forward, a weights file cut
short, an image folder on a full tmpfs), never timed. Covered elsewhere: a store failure at the end
(``test_worker_faults.py``), a full disk on submit (``tests/server/test_full_disk.py``), a model that
cannot load (``tests/integration/test_failed_progress.py``), a LoRA that cannot load
(``tests/integration/test_generation.py``), a client gone mid-SSE (``tests/server/test_events.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from pixelforge.runtime import Runtime
from pixelforge.tasks.model import Task, TaskParams, TaskState
from pixelforge.testing.disk import fill
from pixelforge.testing.hooks import Calls, denoiser

SMALL = {"prompt": "x", "steps": 3, "width": 32, "height": 32}


def _raiser(error: BaseException) -> Callable[[], None]:
    def action() -> None:
        raise error

    return action


def _first_fails_and_the_next_runs(runtime: Runtime, error: BaseException) -> Task:
    """Two tasks, ``error`` raised at the second step of the first; returns the first once the second completed."""
    fault = Calls(denoiser(runtime), at=2, action=_raiser(error))
    try:
        failing = runtime.service.submit(TaskParams(**SMALL))
        following = runtime.service.submit(TaskParams(**SMALL))
        runtime.start()
        assert runtime.service.wait(following.id, timeout=120).state is TaskState.COMPLETED
    finally:
        fault.remove()
    return runtime.service.get(failing.id)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (RuntimeError("the backend broke"), "RuntimeError: the backend broke"),
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of GPU memory"),
        (MemoryError(), "out of memory"),
        (RuntimeError("CUDA error: no CUDA-capable device is detected"), "no CUDA-capable device is detected"),
    ],
    ids=["failing-backend", "gpu-out-of-memory", "out-of-memory", "device-gone"],
)
def test_a_fault_mid_denoise_fails_that_task_clearly_and_the_next_runs(
    make_runtime, error: BaseException, says: str
) -> None:
    runtime = make_runtime(start=False, preview_every=0)
    worker = runtime.workers[0]
    releases: list[bool] = []
    release = worker.backend.release
    worker.backend.release = lambda: (releases.append(True), release())[-1]
    failed = _first_fails_and_the_next_runs(runtime, error)
    assert failed.state is TaskState.FAILED and says in (failed.error or ""), failed.error
    assert failed.progress.textinfo == f"Failed: {failed.error}"
    assert releases  # the failed task's memory was given back before the next claim
    health = runtime.worker_health()[0]
    assert health.alive and health.last_error is None  # the task failed, not the worker


def test_a_device_error_while_releasing_memory_is_reported_and_the_worker_goes_on(make_runtime) -> None:
    runtime = make_runtime(start=False, preview_every=0)
    denoiser(runtime)  # loads the model: the release patched below is not called by that load
    runtime.workers[0].backend.release = _raiser(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert _first_fails_and_the_next_runs(runtime, RuntimeError("the backend broke")).state is TaskState.FAILED
    health = runtime.worker_health()[0]
    assert health.alive and "could not release memory" in (health.last_error or ""), health.last_error


def test_a_model_with_corrupt_weights_fails_clearly_and_the_next_task_runs(
    make_runtime, tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt-weights"
    shutil.copytree(tiny_qwen_dir, corrupt)
    weights = sorted((corrupt / "transformer").glob("*.safetensors"))
    assert weights, "the tiny pipeline has transformer weights"
    with weights[0].open("r+b") as handle:  # cut short, as a download or a copy that stopped half-way
        handle.truncate(weights[0].stat().st_size // 2)
    runtime = make_runtime()
    failing = runtime.service.submit(TaskParams(model=str(corrupt), **SMALL))
    following = runtime.service.submit(TaskParams(**SMALL))
    assert runtime.service.wait(following.id, timeout=120).state is TaskState.COMPLETED
    failed = runtime.service.get(failing.id)
    assert failed.state is TaskState.FAILED and failed.error and "Traceback" not in failed.error
    assert failed.progress.textinfo == f"Failed: {failed.error}"


@pytest.fixture
def small_images_disk(tmp_path: Path) -> Iterator[Path]:
    """The images folder of ``make_runtime``'s data directory on a 1 MiB tmpfs of its own, so the disk fills
    for images while the database has room. Mounting needs root: the test that uses it re-runs itself in a
    user namespace (``as_namespace_root``) when pytest is not root."""
    mount = tmp_path / "data" / "images"
    mount.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                             text=True)
    assert mounted.returncode == 0, f"root could not mount a tmpfs: {mounted.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def as_namespace_root(request: pytest.FixtureRequest) -> None:
    """Run this test again in a new user and mount namespace where the caller is root (``unshare -rm``), so a
    user without root still mounts the tmpfs; fails with unshare's words where the kernel allows no such
    namespace."""
    run = subprocess.run(["unshare", "--map-root-user", "--mount", sys.executable, "-m", "pytest", "-q",
                          "-p", "no:cacheprovider", request.node.nodeid], cwd=request.config.rootpath,
                         capture_output=True, text=True)
    passed = any(line.startswith("1 passed") for line in run.stdout.splitlines())
    assert run.returncode == 0 and passed, run.stdout[-3000:] + run.stderr[-2000:]


def test_a_full_disk_while_writing_images_fails_the_task_and_damages_nothing(
    request: pytest.FixtureRequest, make_runtime
) -> None:
    if os.geteuid() != 0:
        as_namespace_root(request)
        return
    small_images_disk = request.getfixturevalue("small_images_disk")
    runtime = make_runtime(preview_every=0)
    service = runtime.service
    before = service.wait(service.submit(TaskParams(**SMALL)).id, timeout=120)
    assert before.state is TaskState.COMPLETED
    kept = {ref.path: (runtime.settings.data_dir / ref.path).read_bytes() for ref in before.images}
    filler = fill(small_images_disk)
    failed = service.wait(service.submit(TaskParams(**SMALL)).id, timeout=120)
    assert failed.state is TaskState.FAILED and "No space left on device" in (failed.error or ""), failed.error
    assert not list(small_images_disk.rglob("*.tmp"))  # no half-written file left behind
    filler.unlink()
    after = service.wait(service.submit(TaskParams(**SMALL)).id, timeout=120)
    assert after.state is TaskState.COMPLETED
    assert {path: (runtime.settings.data_dir / path).read_bytes() for path in kept} == kept
    assert service.get(before.id).images == before.images
    assert runtime.worker_health()[0].alive
