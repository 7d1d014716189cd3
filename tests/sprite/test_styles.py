"""Style tokens (pixelforge/backends/sprite/styles.py): which picture sets fit a prompt, the per-seed draw, the
table training builds and ships, and the pipeline prompting each image in one style."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelforge.backends.sprite import SpritePipeline
from pixelforge.backends.sprite.presets import build_pipeline
from pixelforge.backends.sprite.styles import StyleTable, fit_styles, pick_style, style_table, style_token
from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
from pixelforge.backends.vocabulary import Vocabulary

# Three sets: an emoji set with apples and cats, pixel-art tiles with wizards and apples, icons with wizards.
CAPTIONS = [["red apple", "apple emoji"], ["cat face", "cat emoji"], ["apple", "apple pixel art"],
            ["wizard", "wizard pixel art"], ["wizard", "wizard icon", "wizard silhouette"]]
SOURCES = ["twemoji", "twemoji", "dcss", "dcss", "game-icons"]


@pytest.fixture(scope="module")
def table() -> StyleTable:
    vocab = SpriteTokenizer.build_vocab([*(c for cs in CAPTIONS for c in cs), "twemoji", "dcss", "gameicons"])
    return style_table(CAPTIONS, SOURCES, Vocabulary(vocab, {}))


def test_a_style_token_is_the_source_name_in_letters_and_digits() -> None:
    assert style_token("noto-color-emoji-font") == "notocoloremojifont"
    assert style_token("game-icons") == "gameicons" and style_token("DCSS") == "dcss"
    with pytest.raises(ValueError, match="no letters"):
        style_token("--")


def test_the_table_says_which_sets_hold_each_word(table: StyleTable) -> None:
    assert table["tokens"] == ["dcss", "gameicons", "twemoji"]
    assert table["words"]["apple"] == ["dcss", "twemoji"]
    assert table["words"]["wizard"] == ["dcss", "gameicons"]
    assert table["words"]["cat"] == ["twemoji"]
    assert table["words"]["pixel"] == ["dcss"] and table["words"]["emoji"] == ["twemoji"]
    assert table["words"]["twemoji"] == ["twemoji"]  # a token names its own set


@pytest.mark.parametrize(("prompt_words", "fit"), [
    (["apple"], ["dcss", "twemoji"]),  # no style named: the sets that hold the word
    (["wizard"], ["dcss", "gameicons"]),
    (["cat", "wizard"], ["dcss", "gameicons", "twemoji"]),  # each holds one of the two words
    (["red", "apple"], ["twemoji"]),  # the set holding most of the words
    (["apple", "pixel", "art"], ["dcss"]),  # a style word narrows the draw
    (["wizard", "icon"], ["gameicons"]),
    (["cat", "pixel"], ["dcss"]),  # the named style wins even where it has no cat
    (["apple", "twemoji"], ["twemoji"]),  # a token names its set
    (["dragon", "emoji", "icon"], ["gameicons", "twemoji"]),  # styles no set shares: their union
    (["apple", "emoji", "icon"], ["twemoji"]),  # ... of which the sets holding most of the words
    (["dragon"], ["dcss", "gameicons", "twemoji"]),  # no set holds the words: every set
    ([], ["dcss", "gameicons", "twemoji"]),
])
def test_the_sets_fit_for_a_prompt(prompt_words: list[str], fit: list[str], table: StyleTable) -> None:
    assert fit_styles(prompt_words, table) == fit


def test_the_draw_is_fixed_by_the_seed_and_varies_across_seeds(table: StyleTable) -> None:
    draws = [pick_style(["wizard"], table, seed) for seed in range(40)]
    assert draws == [pick_style(["wizard"], table, seed) for seed in range(40)]
    assert set(draws) == {"dcss", "gameicons"}


def _styled_pipe(table: StyleTable) -> SpritePipeline:
    vocab = SpriteTokenizer.build_vocab([*(c for cs in CAPTIONS for c in cs), *table["tokens"]])
    torch.manual_seed(0)
    pipe = build_pipeline(vocab, "tiny")
    pipe.tokenizer.with_styles(table)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_pipeline_prompts_each_image_in_the_style_its_seed_draws(table: StyleTable, tmp_path: Path) -> None:
    pipe = _styled_pipe(table)
    seeds = list(range(8))
    prompts = pipe._styled(["a wizard"] * 8, [torch.Generator().manual_seed(s) for s in seeds])
    assert prompts == [f"wizard {pick_style(['wizard'], table, s)}" for s in seeds]
    # One generator for the batch: image i draws with its seed + i.
    assert pipe._styled(["a wizard"] * 2, torch.Generator().manual_seed(3)) == prompts[3:5]
    # The style token survives a prompt longer than the sequence: it takes the last place.
    long = pipe._styled([" ".join(["apple"] * 40)], [torch.Generator().manual_seed(0)])[0].split()
    assert len(long) == pipe.tokenizer.model_max_length - 1 and long[-1] in table["tokens"]
    # The table ships with the weights and comes back with them.
    pipe.save_pretrained(tmp_path)
    loaded = SpritePipeline.from_pretrained(tmp_path)
    assert loaded.tokenizer.styles == table
    images = loaded("a wizard", num_images_per_prompt=2, num_inference_steps=2, output_type="np",
                    generator=[torch.Generator().manual_seed(s) for s in (0, 1)]).images
    assert images.shape == (2, 32, 32, 4)


def test_a_model_without_a_table_is_prompted_as_before(tiny_pipe: SpritePipeline) -> None:
    assert tiny_pipe.tokenizer.styles is None
    assert tiny_pipe._styled(["a red apple", "a red apple"], None) == ["a red apple", "a red apple"]


def test_the_style_words_are_the_words_of_the_captions_styles() -> None:
    from pixelforge.backends.sprite.styles import STYLE_WORDS
    from training.sprite_captions import STYLES

    assert sorted(STYLE_WORDS) == sorted({w for style in STYLES for w in style.split()})
