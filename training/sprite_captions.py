"""Captions people type, built from what a sprite's source says about it and from its own pixels.

Each sprite gets its cleaned name, its category, a style word ("pixel art", "emoji", "icon", "silhouette")
so a prompt can ask for a style, the colour words of its own main colours ("red apple"), WordNet synonyms and
the direct hypernym of its head noun ("kitten" → "kitty", "young mammal"), and Chinese: CLDR's for emoji
(build_sprite_dataset.captions_for), a word-by-word gloss (sprite_zh_gloss.json) for the others.
"""

from __future__ import annotations

import colorsys
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

GLOSS_FILE = Path(__file__).with_name("sprite_zh_gloss.json")
STYLES = ("pixel art", "emoji", "icon", "silhouette")
MAIN_COLOUR_SHARE = 0.3  # a colour names the sprite when at least this share of its opaque pixels has it
MAX_COLOURS = 2
SKIN_TONE_WORDS = frozenset({"light", "medium", "dark"})


def load_gloss(path: Path = GLOSS_FILE) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8"))


def colour_name(rgb: np.ndarray) -> str:
    """The basic colour word a person would use for one uint8 RGB pixel."""
    h, s, v = colorsys.rgb_to_hsv(*(rgb / 255.0))
    if v < 0.2:
        return "black"
    if s < 0.18:
        return "white" if v > 0.85 else "grey"
    hue = h * 360
    if hue < 15 or hue >= 340:
        return "red" if v > 0.45 else "brown"
    if hue < 45:
        return "orange" if v > 0.7 else "brown"
    if hue < 70:
        return "yellow"
    if hue < 165:
        return "green"
    if hue < 255:
        return "blue"
    if hue < 290:
        return "purple"
    return "pink"


def colour_words(pixels: np.ndarray) -> list[str]:
    """Up to two colour words covering at least MAIN_COLOUR_SHARE of the opaque pixels each, commonest first."""
    opaque = pixels[pixels[..., 3] > 0][:, :3]
    if len(opaque) == 0:
        return []
    colours, counts = np.unique(opaque, axis=0, return_counts=True)
    tally: Counter[str] = Counter()
    for rgb, count in zip(colours, counts, strict=True):
        tally[colour_name(rgb.astype(np.float64))] += int(count)
    return [name for name, n in tally.most_common(MAX_COLOURS) if n >= MAIN_COLOUR_SHARE * len(opaque)]


def gloss_zh(phrase: str, gloss: dict[str, str]) -> str | None:
    """"fire dragon" → "火龙": every word glossed, in English order (Chinese puts modifiers first too)."""
    parts = [gloss.get(w) for w in phrase.split()]
    return "".join(parts) if parts and all(parts) else None  # type: ignore[arg-type]


def head_noun(name: str) -> str:
    """The word a name is about: its last, skin-tone modifiers left out ("man construction worker dark skin tone"
    → "worker"; WordNet would read "tone" as speech)."""
    words = name.split()
    if "skin" in words:
        words = words[: words.index("skin")]
        while words and words[-1] in SKIN_TONE_WORDS:
            words.pop()
    return words[-1] if words else ""


def compose(name: str, style: str, pixels: np.ndarray, *, category: str = "", extra: list[str] | None = None,
            senses: Callable[[str], tuple[list[str], list[str]]] | None = None,
            gloss: dict[str, str] | None = None) -> list[str]:
    """A sprite's captions, its name first (evaluation draws prompts from it).

    `extra`: captions its source gives (CLDR names and keywords of an emoji); `senses`: a word's
    (synonyms, hypernyms) from WordNet; `gloss`: English word → Chinese for the words CLDR does not cover.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    captions = [name, f"{name} {style}"]
    if category and category not in name:
        captions += [f"{name} {category}", category]
    colours = colour_words(pixels)
    if colours:
        captions.append(f"{' '.join(colours)} {name}")
    head = head_noun(name)
    if senses is not None and head:
        synonyms, hypernyms = senses(head)
        captions += synonyms[:2] + hypernyms[:1]
    captions += extra or []
    if gloss is not None:
        for phrase in (name, category):
            chinese = gloss_zh(phrase, gloss) if phrase else None
            if chinese:
                captions.append(chinese)
    return list(dict.fromkeys(c for c in captions if c))
