"""A tiny, randomly initialised SpritePipeline: the contract tests need its behaviour, not its pictures."""

from __future__ import annotations

import pytest
import torch

from pixelforge.backends.sprite import SpritePipeline
from pixelforge.backends.sprite.presets import build_pipeline
from pixelforge.backends.sprite.tokenizer import SpriteTokenizer

CAPTIONS = ["red apple", "cat face", "knight", "crossed swords", "castle", "treasure chest", "blue heart"]


@pytest.fixture(scope="session")
def vocab() -> dict[str, int]:
    return SpriteTokenizer.build_vocab(CAPTIONS)


@pytest.fixture(scope="session")
def tiny_pipe(vocab: dict[str, int]) -> SpritePipeline:
    torch.manual_seed(0)
    pipe = build_pipeline(vocab, "tiny")
    pipe.set_progress_bar_config(disable=True)
    return pipe
