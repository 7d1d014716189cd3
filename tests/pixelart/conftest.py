"""A small slice of the synthetic corpus, rendered and processed once per session (the benchmark runs it all)."""

from __future__ import annotations

import pytest

from pixelforge.pixelart import PixelOptions, PixelResult, pixelate
from pixelforge.pixelart.corpus import PITCHES, CorpusItem, corpus


@pytest.fixture(scope="session")
def small_corpus() -> list[CorpusItem]:
    # Two sprites at every pitch, PNG and JPEG; sprites of 24-32 cells keep every image under ~1024 px.
    return corpus(sprites=2, pitches=PITCHES, jpeg=True, max_cells=32, seed=7)


@pytest.fixture(scope="session")
def auto_results(small_corpus: list[CorpusItem]) -> list[PixelResult]:
    return [pixelate(item.image, PixelOptions(colors=16)) for item in small_corpus]


@pytest.fixture(scope="session")
def known_results(small_corpus: list[CorpusItem]) -> list[PixelResult]:
    return [pixelate(item.image, PixelOptions(colors=16, pitch=item.pitch)) for item in small_corpus]
