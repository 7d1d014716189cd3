"""Block-level stop hooks and the bounded CUDA run-ahead window."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pixelforge.engine.control import StepControl, StopHooks, StopRequested, StopToken, repeated_blocks
from pixelforge.engine.runahead import RunAheadWindow


def _launch(window: RunAheadWindow[int], blocks: int) -> list[int | None]:
    """What the hook waits for before each of ``blocks`` launches (marker i = block i)."""
    waited = []
    for block in range(blocks):
        waited.append(window.due())
        window.push(block)
    return waited


@pytest.mark.parametrize("k", [1, 2, 4])
def test_window_waits_for_the_block_launched_k_blocks_earlier(k: int) -> None:
    window: RunAheadWindow[int] = RunAheadWindow(k)
    waited = _launch(window, 10)
    assert waited == [None] * k + list(range(10 - k))
    assert len(window) == k  # never more than k markers (events) alive


def test_unbounded_window_never_waits_and_keeps_nothing() -> None:
    window: RunAheadWindow[int] = RunAheadWindow(0)
    assert _launch(window, 10) == [None] * 10
    assert len(window) == 0


def test_window_starts_afresh_after_clear_and_rejects_negative_k() -> None:
    window: RunAheadWindow[int] = RunAheadWindow(1)
    _launch(window, 3)
    window.clear()
    assert window.due() is None
    with pytest.raises(ValueError):
        RunAheadWindow(-1)


class _Blocks(torch.nn.Module):
    def __init__(self, count: int = 6, width: int = 8) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(count))
        self.ran: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, block in enumerate(self.blocks):
            x = block(x)
            self.ran.append(index)
        return x


def test_block_hook_stops_inside_a_forward_and_is_removed_afterwards() -> None:
    model = _Blocks()
    token = StopToken()
    hooks = StopHooks(runahead_blocks=1)
    hooks.install({"transformer": model}, StepControl(token=token, steps=1), "transformer")
    model.blocks[2].register_forward_hook(lambda *_: token.interrupt())
    with pytest.raises(StopRequested):
        model(torch.zeros(1, 8))
    assert model.ran == [0, 1, 2]  # block 3 was never launched
    hooks.remove()
    model.ran.clear()
    model(torch.zeros(1, 8))  # the token is still set, but no hook is left to see it
    assert model.ran == list(range(6))


def test_no_cuda_event_is_created_for_a_model_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_events(*_: Any, **__: Any) -> None:
        raise AssertionError("a CUDA event was created for CPU work")

    monkeypatch.setattr(torch.cuda, "Event", no_events)
    model = _Blocks()
    hooks = StopHooks(runahead_blocks=1)
    hooks.install({"transformer": model}, StepControl(token=StopToken(), steps=1), "transformer")
    model(torch.zeros(1, 8))
    hooks.remove()
    assert model.ran == list(range(6))


def test_block_search_reaches_text_encoder_layers_but_not_lists_inside_a_block() -> None:
    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.to_out = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Dropout()])

    class Layer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = Attention()

    class Inner(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(Layer() for _ in range(3))

    class TextModel(torch.nn.Module):  # text_encoder.model.language_model.layers, as in Qwen2.5-VL
        def __init__(self) -> None:
            super().__init__()
            self.model = torch.nn.Module()
            self.model.language_model = Inner()
            self.lm_head = torch.nn.Linear(2, 2)

    text_encoder = TextModel()
    found = repeated_blocks(text_encoder)
    assert found == list(text_encoder.model.language_model.layers)


@pytest.mark.gpu
@pytest.mark.parametrize("k", [1, 2])
def test_cuda_run_ahead_keeps_the_cpu_at_most_k_blocks_ahead(k: int) -> None:
    """Behaviour, not timing: when block i is launched, everything before block i-k has finished.

    A probe hook registered after the stop hook records an event before every block; at block i the
    probe event of block i-k-1 must already be complete, because the stop hook waited for the GPU to
    reach block i-k. The blocks are large matmuls, so without the bound the CPU would be far ahead.
    """
    device = torch.device("cuda")
    model = _Blocks(count=24, width=4096).to(device)
    hooks = StopHooks(runahead_blocks=k)
    hooks.install({"transformer": model}, StepControl(token=StopToken(), steps=1), "transformer")
    probes: list[torch.cuda.Event] = []
    reached: list[bool] = []

    def probe(_module: torch.nn.Module, _args: Any) -> None:
        if len(probes) > k:
            reached.append(probes[-k - 1].query())
        event = torch.cuda.Event()
        event.record()
        probes.append(event)

    for block in model.blocks:
        block.register_forward_pre_hook(probe)
    with torch.inference_mode():
        model(torch.randn(4096, 4096, device=device))
    torch.cuda.synchronize()
    hooks.remove()
    assert reached and all(reached)
