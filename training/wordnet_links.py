"""WordNet's nouns and adjectives as plain word links: for each single word, its synonyms, then its hypernyms.

    links = load_wordnet(Path("/usr/share/wordnet")).links()  # Debian wordnet-base
    links["puppy"]  # ["dog", "pup", ...]: same-synset words first, then the hypernyms', nearest first

The captions use the first synonyms and hypernyms of a sprite's head noun ("kitten" also reads "kitty",
"young mammal"); the trained model ships `nearest_known` of these links as its synonym table, so a prompt word
it never saw becomes the nearest word it knows instead of being dropped. Only the first (most frequent) senses
of a word are followed: rarer senses link "apple" to "orchard apple tree" and "bat" to "cricket equipment".
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_APT_HINT = "apt-get update && apt-get install -y wordnet-base"
HYPERNYM_POINTERS = ("@", "@i")  # hypernym, instance hypernym
SENSES = 2  # most frequent senses followed per word
HYPERNYM_DEPTH = 3  # levels walked up: beyond three, "dog" reaches "organism"
# Adjectives have no hypernyms; their "similar to" pointers lead to the head adjective ("crimson" → "red").
SIMILAR_POINTER = "&"


def _single(lemma: str) -> str | None:
    # Multi-word lemmas (fire_dragon) and ones with a sense marker (red(a)) are not prompt words.
    word = lemma.split("(")[0].lower()
    return word if word.isalpha() else None


def parse_data(lines: Iterable[str]) -> dict[str, tuple[list[str], list[str]]]:
    """A data.<pos> file: synset offset → (its single-word lemmas, offsets its hypernym/similar pointers name)."""
    synsets: dict[str, tuple[list[str], list[str]]] = {}
    for line in lines:
        if line.startswith(" "):  # the licence header
            continue
        fields = line.split(" | ")[0].split()
        offset, word_count = fields[0], int(fields[3], 16)
        lemmas = [w for w in (_single(fields[4 + 2 * i]) for i in range(word_count)) if w]
        at = 4 + 2 * word_count
        pointer_count = int(fields[at])
        pointers = [fields[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(pointer_count)]
        up = [target for symbol, target, _, _ in pointers if symbol in (*HYPERNYM_POINTERS, SIMILAR_POINTER)]
        synsets[offset] = (list(dict.fromkeys(lemmas)), up)
    return synsets


def parse_index(lines: Iterable[str]) -> dict[str, list[str]]:
    """An index.<pos> file: single-word lemma → its synset offsets, most frequent sense first."""
    index: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith(" "):
            continue
        fields = line.split()
        word = _single(fields[0])
        if word is None:
            continue
        synset_count, pointer_kinds = int(fields[2]), int(fields[3])
        index[word] = fields[6 + pointer_kinds: 6 + pointer_kinds + synset_count]
    return index


def links_for(word: str, index: dict[str, list[str]], synsets: dict[str, tuple[list[str], list[str]]]) -> list[str]:
    """`word`'s links sense by sense, most frequent first: the sense's other lemmas (synonyms), then its
    hypernyms' lemmas level by level."""
    found: list[str] = []
    for sense in index.get(word, [])[:SENSES]:
        level = [sense]
        for _ in range(HYPERNYM_DEPTH + 1):
            above: list[str] = []
            for offset in level:
                lemmas, up = synsets.get(offset, ([], []))
                found += [w for w in lemmas if w != word and w not in found]
                above += up
            level = list(dict.fromkeys(above))
    return found


def first_sense(word: str, index: dict[str, list[str]], synsets: dict[str, tuple[list[str], list[str]]]
                ) -> tuple[list[str], list[str]]:
    """(synonyms, direct hypernyms) of `word`'s most frequent sense: what its captions add."""
    senses = index.get(word, [])
    if not senses:
        return [], []
    lemmas, up = synsets.get(senses[0], ([], []))
    hypernyms = [w for offset in up for w in synsets.get(offset, ([], []))[0]]
    return [w for w in lemmas if w != word], list(dict.fromkeys(hypernyms))


@dataclass(frozen=True)
class WordNet:
    """The parsed index and data files of each part of speech, in the order a tie is settled (nouns first)."""

    parts: dict[str, tuple[dict[str, list[str]], dict[str, tuple[list[str], list[str]]]]]

    def links(self) -> dict[str, list[str]]:
        """word → links_for(word) for every single word of every part of speech loaded."""
        links: dict[str, list[str]] = {}
        for index, synsets in self.parts.values():
            for word in index:
                if word not in links:
                    links[word] = links_for(word, index, synsets)
        return links

    def first_sense(self, word: str) -> tuple[list[str], list[str]]:
        """first_sense of the noun, read as its singular when that is a noun too: "shoes" as a noun of its own
        is a situation ("in her shoes"), while a sprite named "ballet shoes" shows shoes."""
        index, synsets = self.parts["noun"]
        for singular in (word[:-3] + "y" if word.endswith("ies") else "", word[:-2] if word.endswith("es") else "",
                         word[:-1] if word.endswith("s") else ""):
            if singular in index:
                return first_sense(singular, index, synsets)
        return first_sense(word, index, synsets)


def load_wordnet(wordnet_dir: Path = WORDNET_DIR, parts_of_speech: tuple[str, ...] = ("noun", "adj")) -> WordNet:
    if not (wordnet_dir / "index.noun").is_file():
        raise FileNotFoundError(f"{wordnet_dir / 'index.noun'} is missing; install it with: {WORDNET_APT_HINT}")
    parts = {}
    for pos in parts_of_speech:
        with open(wordnet_dir / f"data.{pos}", encoding="utf-8") as data, \
                open(wordnet_dir / f"index.{pos}", encoding="utf-8") as index:
            parts[pos] = (parse_index(index), parse_data(data))
    return WordNet(parts)


def nearest_known(links: dict[str, list[str]], known: Container[str]) -> dict[str, str]:
    """The synonym table that ships with a model: each unknown word → its first link the model knows."""
    table: dict[str, str] = {}
    for word, linked in links.items():
        if word in known:
            continue
        target = next((w for w in linked if w in known), None)
        if target is not None:
            table[word] = target
    return table
