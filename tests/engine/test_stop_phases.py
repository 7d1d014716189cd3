"""A stop lands in every phase of a task, within that phase's smallest unit of work.

Each test stops the task from inside the work itself (a forward hook on one block of the real tiny
Qwen-Image pipeline, or the backend's load) through the service, as a user's click would, and then
checks which units of work never ran. No timings: behaviour only. Previews stay on (every 2 steps):
they use a linear latent map, never the VAE, so they do not blur the counts.
"""

from __future__ import annotations

from typing import Any

from pixelforge.runtime import Runtime
from pixelforge.tasks.model import EventType, TaskParams, TaskState
from pixelforge.testing.hooks import Calls

STEPS = 4


def _params(**overrides: Any) -> TaskParams:
    return TaskParams(**({"prompt": "a knight", "steps": STEPS, "width": 32, "height": 32, "seed": 7} | overrides))


def _loaded_pipe(runtime: Runtime) -> Any:
    """The pipeline the worker will use (the backend keeps one loaded model per worker)."""
    backend = runtime.workers[0].backend
    return backend.load(runtime.settings.model, None, 1.0).pipe


def _event_types(runtime: Runtime, task_id: str) -> list[EventType]:
    return [event.type for event in runtime.service.store.events_since(task_id, 0)]


def test_stop_while_queued_cancels_and_the_task_never_runs(make_runtime) -> None:
    runtime = make_runtime(start=False)
    task = runtime.service.submit(_params())
    runtime.service.interrupt(task.id)
    runtime.start()
    other = runtime.service.submit(_params())  # the worker is running: the next task proves it moved on
    assert runtime.service.wait(other.id, timeout=60).state is TaskState.COMPLETED
    stopped = runtime.service.get(task.id)
    assert stopped.state is TaskState.CANCELLED
    assert EventType.STARTED not in _event_types(runtime, task.id)
    assert stopped.images == []


def test_stop_while_loading_lands_right_after_the_load(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    backend = runtime.workers[0].backend
    original_load = backend.load
    task_ids: list[str] = []

    def load_then_click_stop(*args: Any, **kwargs: Any) -> Any:
        model = original_load(*args, **kwargs)
        runtime.service.interrupt(task_ids[0])  # the click arrives while the weights are loading
        return model

    backend.load = load_then_click_stop
    encoder_calls, denoiser_calls = Calls(pipe.text_encoder), Calls(pipe.transformer)
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert finished.state is TaskState.INTERRUPTED
    assert (encoder_calls.count, denoiser_calls.count) == (0, 0)
    assert finished.images == []


def test_stop_while_encoding_the_prompt_lands_at_the_next_text_encoder_layer(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    layers = pipe.text_encoder.model.language_model.layers
    task_ids: list[str] = []
    first = Calls(layers[0], at=1, action=lambda: runtime.service.interrupt(task_ids[0]))
    second, denoiser = Calls(layers[1]), Calls(pipe.transformer)
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert finished.state is TaskState.INTERRUPTED
    assert first.count == 1
    assert second.count == 0  # the layer after the click never ran: the encode was left mid-model
    assert denoiser.count == 0
    assert finished.stats is not None and finished.stats.steps_run == 0


def test_stop_while_denoising_lands_at_the_next_block_inside_the_step(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    blocks = pipe.transformer.transformer_blocks
    task_ids: list[str] = []
    # Third pass of block 0 = the cond pass of step 2 (true CFG runs cond and uncond passes per step).
    first = Calls(blocks[0], at=3, action=lambda: runtime.service.interrupt(task_ids[0]))
    second, vae = Calls(blocks[1]), Calls(pipe.vae.decoder)
    runtime.start()
    task_ids.append(runtime.service.submit(_params(cfg_scale=4.0)).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert finished.state is TaskState.INTERRUPTED
    assert first.count == 3
    assert second.count == 2  # block 1 did not run after the click, in the middle of that pass
    assert finished.stats is not None and finished.stats.steps_run == 1
    assert vae.count == 0  # and no decode of an image nobody wants
    assert finished.images == []


def test_stop_while_decoding_lands_at_the_next_vae_block(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    up_blocks = pipe.vae.decoder.up_blocks
    task_ids: list[str] = []
    first = Calls(up_blocks[0], at=1, action=lambda: runtime.service.interrupt(task_ids[0]))
    rest = [Calls(block) for block in up_blocks[1:]]
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert finished.state is TaskState.INTERRUPTED
    assert first.count == 1
    assert [calls.count for calls in rest] == [0] * len(rest)
    assert finished.stats is not None and finished.stats.steps_run == STEPS
    assert finished.images == []  # keep_partial=False: the unfinished decode is discarded


def test_keep_partial_stop_while_decoding_lets_the_decode_finish(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    task_ids: list[str] = []
    first = Calls(
        pipe.vae.decoder.up_blocks[0], at=1, action=lambda: runtime.service.interrupt(task_ids[0], keep_partial=True)
    )
    last = Calls(pipe.vae.decoder.up_blocks[-1])
    runtime.start()
    task_ids.append(runtime.service.submit(_params()).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert first.count == 1 and last.count == 1
    assert len(finished.images) == 1  # the image was complete: keeping it means finishing its decode


def test_a_second_stop_while_the_partial_image_decodes_still_ends_the_task_interrupted(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    task_ids: list[str] = []
    click = Calls(  # the cond pass of step 2: stop, keeping the current estimate
        pipe.transformer.transformer_blocks[0], at=3,
        action=lambda: runtime.service.interrupt(task_ids[0], keep_partial=True),
    )
    again = Calls(  # then, while that estimate decodes, a stop that keeps nothing (a DELETE, a timeout)
        pipe.vae.decoder.up_blocks[0], at=1, action=lambda: runtime.service.interrupt(task_ids[0]),
    )
    last = Calls(pipe.vae.decoder.up_blocks[-1])
    runtime.start()
    task_ids.append(runtime.service.submit(_params(cfg_scale=4.0)).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert (click.count, again.count, last.count) == (3, 1, 1)  # the partial decode ran to its end
    assert finished.state is TaskState.INTERRUPTED, finished.error
    assert len(finished.images) == 1 and finished.images[0].partial


def test_stop_during_post_processing_keeps_the_finished_image_and_runs_no_further_job(make_runtime) -> None:
    runtime = make_runtime(start=False)
    pipe = _loaded_pipe(runtime)
    store = runtime.store
    original_add_image = store.add_image
    task_ids: list[str] = []

    def add_image_then_click_stop(task_id: str, ref: Any) -> Any:
        result = original_add_image(task_id, ref)
        runtime.service.interrupt(task_ids[0])  # the click arrives while job 1's image is being saved
        return result

    store.add_image = add_image_then_click_stop
    denoiser = Calls(pipe.transformer)
    runtime.start()
    task_ids.append(runtime.service.submit(_params(batch_count=3, cfg_scale=1.0)).id)
    finished = runtime.service.wait(task_ids[0], timeout=60)
    assert finished.state is TaskState.INTERRUPTED
    assert len(finished.images) == 1 and not finished.images[0].partial
    assert denoiser.count == STEPS  # job 2 never started
    assert _event_types(runtime, task_ids[0]).count(EventType.IMAGE) == 1
