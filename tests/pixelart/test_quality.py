"""The acceptance bars of issues 6, 15 and 31, on slices of the synthetic corpus (16-colour budget, as in the peers'
table)."""

from __future__ import annotations

import numpy as np
import pytest

from pixelforge.pixelart import PixelOptions, PixelResult, pixelate
from pixelforge.pixelart.corpus import PITCHES, CorpusItem, SpriteKind, corpus
from pixelforge.pixelart.evaluate import Score, score


def _scores(items: list[CorpusItem], results: list[PixelResult]) -> list[Score]:
    return [score(item, result.sprite, result.manifest.pitch) for item, result in zip(items, results, strict=True)]


def test_slice_covers_every_pitch_and_jpeg(small_corpus: list[CorpusItem]) -> None:
    assert {item.pitch for item in small_corpus} == set(PITCHES)
    assert any(item.jpeg_quality for item in small_corpus)
    assert any(item.jpeg_quality is None for item in small_corpus)


def test_pitch_unknown(small_corpus: list[CorpusItem], auto_results: list[PixelResult]) -> None:
    scores = _scores(small_corpus, auto_results)
    assert np.mean([s.size_exact for s in scores]) >= 0.90
    assert np.mean([s.cell_accuracy for s in scores]) >= 0.95


def test_pitch_unknown_finds_the_fractional_pitch(
    small_corpus: list[CorpusItem], auto_results: list[PixelResult]
) -> None:
    errors = [s.pitch_error for s in _scores(small_corpus, auto_results) if s.size_exact]
    assert max(errors) < 0.01


def test_pitch_known(small_corpus: list[CorpusItem], known_results: list[PixelResult]) -> None:
    scores = _scores(small_corpus, known_results)
    assert all(s.size_exact for s in scores)
    assert np.mean([s.cell_accuracy for s in scores]) >= 0.98
    assert np.mean([s.detail_retention for s in scores]) >= 0.95


def test_colour_budget_is_respected(small_corpus: list[CorpusItem], known_results: list[PixelResult]) -> None:
    assert all(s.colors <= 16 for s in _scores(small_corpus, known_results))


def test_background_is_removed_and_enclosed_background_coloured_art_kept(
    small_corpus: list[CorpusItem], known_results: list[PixelResult]
) -> None:
    for item, result in zip(small_corpus, known_results, strict=True):
        truth_clear = item.truth.rgba[..., 3] == 0
        out_clear = np.asarray(result.sprite)[..., 3] == 0
        assert (truth_clear == out_clear).mean() >= 0.97, item.name


@pytest.mark.parametrize("kind", ["white-interior", "white-body", "ring", "transparent"])
def test_sprite_kinds_of_issue_15(kind: SpriteKind) -> None:
    """White interiors and white bodies keep them, a ring loses its hole when asked, transparent inputs read
    like opaque ones: pitch known and unknown."""
    items = corpus(sprites=1, pitches=(5.0, 12.5, 21.33), max_cells=32, seed=7, kind=kind)
    for pitch in (None, "known"):
        scores = []
        for item in items:
            options = PixelOptions(colors=16, pitch=item.pitch if pitch else None, remove_enclosed=kind == "ring")
            result = pixelate(item.image, options)
            scores.append(score(item, result.sprite, result.manifest.pitch))
        assert all(s.size_exact for s in scores), (kind, pitch)
        assert np.mean([s.cell_accuracy for s in scores]) >= 0.97, (kind, pitch)


def test_pale_sprites_of_issue_31() -> None:
    """White, cream and light-grey bodies on white, off-white and light-grey backgrounds, half without an outline,
    PNG and JPEG, every pitch: cell accuracy ≥ 0.98 with the pitch told and ≥ 0.95 without (before: 0.976 and 0.978,
    bodies taken by the flood and JPEG noise unmixed into false tints)."""
    items = corpus(sprites=2, pitches=PITCHES, max_cells=32, seed=7, kind="pale")
    for pitch, bar in ((None, 0.95), ("known", 0.98)):
        scores = []
        for item in items:
            result = pixelate(item.image, PixelOptions(colors=16, pitch=item.pitch if pitch else None))
            scores.append(score(item, result.sprite, result.manifest.pitch))
        assert all(s.size_exact for s in scores), pitch
        assert np.mean([s.cell_accuracy for s in scores]) >= bar, pitch
