"""The contract every model family keeps, run over each: a new family is proven by passing it.

Families: the bundled sprite pipeline (pixel space), a tiny Qwen-Image (transformer, packed latents, true CFG)
and a tiny Stable Diffusion (UNet, VAE, CLIP, DDIM), each through a real Runtime. The tests reach the model
only through the ``LoadedModel`` protocol (``modules()``, ``denoiser_name``) and the task service, never
through a pipeline, so they hold for any backend:

- the family row that recognises the model names the adapter that drives it;
- a stop lands in every phase (load, encode, denoise, decode) for every action (interrupt, interrupt keeping
  the partial image, skip), with the outcome the matrix below says; a kept partial image is decoded whole;
- previews of the estimate are published while a job runs;
- img2img runs only the steps the strength leaves, strength 0 returns the input, inpainting keeps the known
  pixels.

Each stop is clicked from inside the work itself (a forward hook on one of the model's modules, or the
backend's load), as a user's click would arrive; no timings.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pixelforge.backends.base import LoadedModel
from pixelforge.backends.families import family_of
from pixelforge.backends.presets import resolve_model
from pixelforge.config import Settings
from pixelforge.engine.control import repeated_blocks
from pixelforge.runtime import Runtime
from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import Img2ImgOptions, Task, TaskParams, TaskState
from pixelforge.testing.hooks import Calls, Hold
from pixelforge.testing.images import left_half_mask, png_bytes, sprite

STEPS = 4
JOBS = 2
# One denoiser forward per step (no CFG pass), so forward n of a job is its step n.
PARAMS = TaskParams(prompt="a knight", steps=STEPS, batch_count=JOBS, cfg_scale=1.0, width=32, height=32, seed=7)
FAMILIES = ("sprite", "qwen-image", "sd1")


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pixelforge.testing.tiny_sd import save_tiny_sd_pipeline

    return save_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny-sd") / "pipeline")


@dataclass
class Family:
    """A started runtime on one family's model, and that model as its worker holds it."""

    name: str
    spec: str
    runtime: Runtime
    model: LoadedModel
    hooks: list[Calls | Hold] = field(default_factory=list)

    @property
    def denoiser(self) -> torch.nn.Module:
        return self.model.modules()[self.model.denoiser_name]

    def calls(self, module: torch.nn.Module, **kwargs: Any) -> Calls:
        calls = Calls(module, **kwargs)
        self.hooks.append(calls)
        return calls

    def submit(self, params: TaskParams = PARAMS, images: ImageUpload | None = None) -> str:
        return self.runtime.service.submit(params, task_id=task_id(), images=images).id

    def wait(self, task_id: str) -> Task:
        return self.runtime.service.wait(task_id, timeout=120)


def task_id() -> str:
    return f"task(contract-{uuid.uuid4().hex[:12]})"


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Family]:
    """One runtime per family for the module (the model loads once); previews on at every step."""
    name = request.param
    spec = {
        "sprite": "sprite",
        "qwen-image": lambda: str(request.getfixturevalue("tiny_qwen_dir")),
        "sd1": lambda: str(request.getfixturevalue("tiny_sd_dir")),
    }[name]
    spec = spec if isinstance(spec, str) else spec()
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp(f"contract-{name}"), model=spec, preview_every=1))
    model = runtime.workers[0].backend.load(spec, None, 1.0)
    runtime.start()
    yield Family(name, spec, runtime, model)
    runtime.stop()


@pytest.fixture
def each(family: Family) -> Iterator[Family]:
    """The family, with every hook a test installed through it removed afterwards."""
    yield family
    for hook in family.hooks:
        hook.remove()
    family.hooks.clear()


def test_the_family_row_that_recognises_the_model_names_its_adapter(each: Family) -> None:
    resolved = resolve_model(each.spec)
    row = family_of(resolved.pipeline_class)
    assert row.name == each.name
    assert isinstance(each.model, row.adapter_class())
    assert resolved.takes_loras is row.takes_loras
    assert each.model.denoiser_name in each.model.modules()
    assert each.model.sampler_name and each.model.device.type == "cpu"


# --- the stop-phase matrix ---------------------------------------------------------------------------------

ACTIONS: dict[str, Callable[[Runtime], Callable[[str], object]]] = {
    "interrupt": lambda runtime: lambda task: runtime.service.interrupt(task),
    "keep-partial": lambda runtime: lambda task: runtime.service.interrupt(task, keep_partial=True),
    "skip": lambda runtime: lambda task: runtime.service.skip(task),
}


@dataclass(frozen=True)
class Outcome:
    state: TaskState
    images: list[tuple[int, bool]]  # (job_no, partial) of each stored image
    steps_run: int
    # Forwards, in the whole task, of the block right after the one the click followed (None: the click
    # followed no block): fewer than a whole run would make proves the stop left that module mid-way.
    next_block_runs: int | None = None


INTERRUPTED, COMPLETED = TaskState.INTERRUPTED, TaskState.COMPLETED
# Every stop clicks in job 0 of two; job 1 is what a skip leaves to run.
MATRIX: dict[tuple[str, str], Outcome] = {
    # Loaded, nothing run yet: nothing to keep; a skip ends job 0 at its first module.
    ("load", "interrupt"): Outcome(INTERRUPTED, [], 0),
    ("load", "keep-partial"): Outcome(INTERRUPTED, [], 0),
    ("load", "skip"): Outcome(COMPLETED, [(1, False)], STEPS),
    # After the first block of the prompt's encoder: its next block never runs in job 0 (a skip's job 1 encodes).
    ("encode", "interrupt"): Outcome(INTERRUPTED, [], 0, next_block_runs=0),
    ("encode", "keep-partial"): Outcome(INTERRUPTED, [], 0, next_block_runs=0),
    ("encode", "skip"): Outcome(COMPLETED, [(1, False)], STEPS, next_block_runs=1),
    # After the denoiser's first block in step 2: step 2 never ends; a kept image is decoded from step 1's estimate.
    ("denoise", "interrupt"): Outcome(INTERRUPTED, [], 1, next_block_runs=1),
    ("denoise", "keep-partial"): Outcome(INTERRUPTED, [(0, True)], 1, next_block_runs=1),
    ("denoise", "skip"): Outcome(COMPLETED, [(1, False)], 1 + STEPS, next_block_runs=1 + STEPS),
    # After the last step's forward: only the decode is left, which keeping the image lets finish.
    ("decode", "interrupt"): Outcome(INTERRUPTED, [], STEPS),
    ("decode", "keep-partial"): Outcome(INTERRUPTED, [(0, False)], STEPS),
    ("decode", "skip"): Outcome(COMPLETED, [(1, False)], 2 * STEPS),
}


@dataclass
class Click:
    """Where a click was arranged: whether it ran, after which block, and the forwards of every block hooked."""

    ran: list[bool] = field(default_factory=list)
    blocks: dict[str, list[Calls]] = field(default_factory=dict)  # by module name, in repeated_blocks' order
    after: tuple[str, int] | None = None  # the module and block the click followed

    @property
    def next_block_runs(self) -> int | None:
        if self.after is None:
            return None
        module, index = self.after
        return self.blocks[module][index + 1].count


def click_in(family: Family, phase: str, action: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> Click:
    """Arrange for ``action`` to run once inside job 0's ``phase``."""
    click = Click()

    def once(after: tuple[str, int] | None = None) -> None:
        if not click.ran:
            click.ran.append(True)
            click.after = after
            action()

    def hook_blocks(name: str, module: torch.nn.Module, action_of: Callable[[int], Callable[[], None] | None]) -> None:
        click.blocks[name] = [family.calls(block, action=action_of(index)).every(1)
                              for index, block in enumerate(repeated_blocks(module))]

    denoiser_name = family.model.denoiser_name
    if phase == "load":
        backend = family.runtime.workers[0].backend
        original = backend.load

        def load_then_click(*args: Any, **kwargs: Any) -> Any:
            model = original(*args, **kwargs)
            once()
            return model

        monkeypatch.setattr(backend, "load", load_then_click)
    elif phase == "encode":
        # After the first block to run of a module other than the denoiser (a text encoder's first layer),
        # before the denoiser ran: the module's next block must never run.
        denoiser = family.calls(family.denoiser)

        def encoding(name: str) -> Callable[[int], Callable[[], None]]:
            return lambda index: lambda: denoiser.count == 0 and once((name, index))

        for name, module in family.model.modules().items():
            if name != denoiser_name:
                hook_blocks(name, module, encoding(name))
    elif phase == "denoise":
        # After the denoiser's first block in step 2 (its second forward): the next block runs in step 1 only.
        def in_step_two(index: int) -> Callable[[], None] | None:
            if index != 0:
                return None
            return lambda: click.blocks[denoiser_name][0].count == 2 and once((denoiser_name, 0))

        hook_blocks(denoiser_name, family.denoiser, in_step_two)
    else:
        family.calls(family.denoiser, at=STEPS, action=once)
    return click


@pytest.mark.parametrize(("phase", "action"), list(MATRIX))
def test_a_stop_lands_in_every_phase(each: Family, phase: str, action: str, monkeypatch: pytest.MonkeyPatch) -> None:
    task = task_id()
    click = click_in(each, phase, lambda: ACTIONS[action](each.runtime)(task), monkeypatch)
    each.runtime.service.submit(PARAMS, task_id=task)
    finished = each.wait(task)
    expected = MATRIX[phase, action]
    assert click.ran, f"no click landed in the {phase} phase"
    assert finished.state is expected.state, finished.error
    assert [(image.job_no, image.partial) for image in finished.images] == expected.images
    assert finished.stats is not None and finished.stats.steps_run == expected.steps_run
    assert click.next_block_runs == expected.next_block_runs
    for image in finished.images:  # a kept partial image is decoded whole, at the size asked for
        with Image.open(each.runtime.settings.data_dir / image.path) as stored:
            assert stored.size == (PARAMS.width, PARAMS.height)


# --- previews ----------------------------------------------------------------------------------------------


def test_previews_of_the_estimate_are_published_while_the_job_runs(
    each: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = threading.Event()
    store = each.runtime.store
    original = store.add_preview

    def add_preview(*args: Any, **kwargs: Any) -> Any:
        event = original(*args, **kwargs)
        published.set()
        return event

    monkeypatch.setattr(store, "add_preview", add_preview)
    steps = each.calls(each.denoiser)
    # Step 2 waits until the preview of step 1's estimate is stored: no race with the encoder thread.
    hold = Hold(each.denoiser, when=lambda: steps.count >= 1, until=published.wait)
    each.hooks.append(hold)
    task = each.submit(PARAMS.model_copy(update={"batch_count": 1}))
    finished = each.wait(task)
    assert finished.state is TaskState.COMPLETED, finished.error
    assert hold.reached.is_set() and published.is_set()
    stored = each.runtime.service.store.get_preview(task)
    assert stored is not None
    with Image.open(io.BytesIO(stored[1])) as preview:
        assert preview.width > 0 and preview.height > 0


# --- img2img -----------------------------------------------------------------------------------------------


def _img2img(strength: float, mask: bool = False) -> tuple[TaskParams, ImageUpload]:
    params = PARAMS.model_copy(
        update={"batch_count": 1, "img2img": Img2ImgOptions(denoising_strength=strength, mask_blur=0)}
    )
    upload = ImageUpload(init_image=png_bytes(sprite()), mask=png_bytes(left_half_mask()) if mask else None)
    return params, upload


def _rgb(family: Family, task: Task) -> np.ndarray:
    with Image.open(family.runtime.settings.data_dir / task.images[0].path) as stored:
        return np.asarray(stored.convert("RGB"))


def test_img2img_runs_only_the_steps_the_strength_leaves(each: Family) -> None:
    denoiser = each.calls(each.denoiser)
    finished = each.wait(each.submit(*_img2img(0.5)))
    assert finished.state is TaskState.COMPLETED, finished.error
    assert denoiser.count == STEPS // 2
    assert finished.stats is not None and finished.stats.steps_run == STEPS // 2


def test_img2img_at_strength_zero_returns_the_input(each: Family) -> None:
    denoiser = each.calls(each.denoiser)
    finished = each.wait(each.submit(*_img2img(0.0)))
    assert finished.state is TaskState.COMPLETED, finished.error
    assert denoiser.count == 0
    assert np.array_equal(_rgb(each, finished), np.asarray(sprite().convert("RGB")))


def test_inpainting_keeps_the_pixels_outside_the_mask(each: Family) -> None:
    finished = each.wait(each.submit(*_img2img(1.0, mask=True)))
    assert finished.state is TaskState.COMPLETED, finished.error
    out, source = _rgb(each, finished), np.asarray(sprite().convert("RGB"))
    assert np.array_equal(out[:, 16:], source[:, 16:])
    assert not np.array_equal(out[:, :16], source[:, :16])
