"""Style tokens: one word per picture set (an emoji set, the icon set, the pixel-art tiles) for a sprite model
trained with `training/train_sprite.py --style-tokens`.

The same concept drawn by six sets is six different pictures; trained under one caption, a small model learns
their blur. Training therefore ends every caption with its set's token ("apple twemoji", "apple dcss"), and
at generation each image gets one token, drawn with that image's seed among the sets fit for the prompt:

- the sets a style word of the prompt names ("pixel art" → the pixel-art tiles, "emoji" → the emoji sets,
  "icon" → the icons; a token itself, "twemoji", names its set), else every set;
- of those, the sets whose captions hold most of the prompt's words (for "a wizard": the tiles and icons that
  have wizards, not an emoji set that has none); when none holds any, all of them.

So four seeds give up to four drawings of what was asked, each in one set's style. The table ships as
`tokenizer/styles.json`; a model without one (v1) is prompted as it always was.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import TypedDict

from pixelforge.backends.vocabulary import Vocabulary, words

STYLES_FILE = "styles.json"
# The style words the captions carry (training/sprite_captions.py STYLES), in their single-word form.
STYLE_WORDS = ("pixel", "art", "emoji", "icon", "silhouette")


class StyleTable(TypedDict):
    tokens: list[str]  # every style token, sorted
    words: dict[str, list[str]]  # vocabulary word → the tokens whose sprites have it in a caption


def style_token(source: str) -> str:
    """The one-word token of a picture set: its source name, lower-case letters and digits only."""
    token = re.sub(r"[^a-z0-9]", "", source.lower())
    if not token:
        raise ValueError(f"source {source!r} has no letters or digits to make a style token of")
    return token


def style_table(captions: Sequence[Sequence[str]], sources: Sequence[str], vocabulary: Vocabulary) -> StyleTable:
    """Which sets' captions hold each word (in the vocabulary's known form), from the training captions."""
    sets: dict[str, set[str]] = {}
    for sprite_captions, source in zip(captions, sources, strict=True):
        token = style_token(source)
        for caption in sprite_captions:
            for word in words(caption):
                known = vocabulary.known_form(word)[1]
                if known is not None:
                    sets.setdefault(known, set()).add(token)
    tokens = sorted({style_token(s) for s in sources})
    for token in tokens:
        sets[token] = {token}
    return {"tokens": tokens, "words": {w: sorted(t) for w, t in sorted(sets.items())}}


def fit_styles(prompt_words: Iterable[str], table: StyleTable) -> list[str]:
    """The tokens fit for a prompt, given its words in their known form (see the module's rules)."""
    known = [w for w in prompt_words if w in table["words"]]
    named = [set(table["words"][w]) for w in known if w in STYLE_WORDS or w in table["tokens"]]
    candidates = set.intersection(*named) if named else set(table["tokens"])
    if not candidates:  # styles named that no set shares ("emoji icon"): the union of them
        candidates = set().union(*named)
    content = [w for w in known if w not in STYLE_WORDS and w not in table["tokens"]]
    holds = {t: sum(t in table["words"][w] for w in content) for t in candidates}
    best = max(holds.values(), default=0)
    return sorted(t for t, n in holds.items() if n == best) if best else sorted(candidates)


def pick_style(prompt_words: Iterable[str], table: StyleTable, seed: int) -> str:
    """One fit token, drawn with an image's seed: the same seed and prompt always give the same style."""
    return random.Random(seed).choice(fit_styles(prompt_words, table))
