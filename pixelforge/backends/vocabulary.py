"""What the sprite model knows: the words of its captions, and how a prompt's words reach them.

Read from the tokenizer's files alone (no torch, no transformers), so the server, ``pixelforge models`` and the
web UI can tell a user which of their words the model will read, and as what, before anything runs. The tokenizer
reads prompts through this same class, so what is shown is what the model gets.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Container
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

SYNONYMS_FILE = "synonyms.json"
VOCAB_FILE = "vocab.json"
# Function words carry nothing a 32×32 sprite can show; dropping them makes "a knight with a sword" and
# "knight sword" the same prompt instead of spending positions on tokens the model never learned.
STOPWORDS = frozenset(
    {"a", "an", "and", "the", "with", "of", "in", "on", "at", "to", "for", "from", "by", "or", "is", "are", "be",
     "as", "its", "it", "this", "that", "these", "those", "into", "over"}
)
# Chinese function characters, dropped for the same reason: 一个红苹果 and 红苹果 are the same picture.
CJK_STOPWORDS = frozenset("个的一只和了是在与")
# A Latin word, or one CJK ideograph: Chinese has no spaces, and CLDR's zh keywords (苹果, 红色) and natural
# prompts (红苹果) share characters rather than segmentations, so each ideograph is one token.
_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# The tokens at the head of the vocabulary file that are not words (padding, unknown, start).
SPECIAL_TOKENS = frozenset({"<pad>", "<unk>", "<bos>"})


def words(text: str) -> list[str]:
    """Lower-case, fold accents (piñata → pinata), drop apostrophes and punctuation and stopwords; split
    Chinese into ideographs."""
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "").replace("’", "")
    return [w for w in _TOKEN.findall(plain) if w not in STOPWORDS and w not in CJK_STOPWORDS]


def singular(word: str, known: Container[str]) -> str | None:
    """The singular of `word` among `known` ("boxes" → "box", "cats" → "cat", "puppies" → "puppy"), or None."""
    if word.endswith("ies") and word[:-3] + "y" in known:
        return word[:-3] + "y"
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in known:
            return word[: -len(suffix)]
    return None


class ReadAs(StrEnum):
    KNOWN = "known"  # a word of the captions
    PLURAL = "plural"  # the plural of one ("cats" → cat)
    NEAREST = "nearest"  # a word never seen, read as the nearest known one (a synonym, else a broader word)
    UNKNOWN = "unknown"  # nothing the model knows: it is ignored


class WordReading(BaseModel):
    """How the model reads one word of a prompt."""

    word: str = Field(description="The prompt's word, lower-cased and without accents (each Chinese ideograph "
                      "is one word).")
    read_as: ReadAs
    known_word: str | None = Field(description="The word of its vocabulary the model reads it as; null when "
                                   "unknown.")


class VocabularySummary(BaseModel):
    """What ``pixelforge models`` and ``GET /api/v1/models`` say the model knows."""

    words: int = Field(description="Words of its captions (English words and Chinese ideographs).")
    nearest_words: int = Field(description="More words it reads as the nearest one it knows (WordNet synonyms and "
                               "broader words, mapped when it was trained).")


class Vocabulary:
    """The caption words (word → token id) and the table of other words → the nearest caption word."""

    def __init__(self, vocab: dict[str, int], synonyms: dict[str, str]) -> None:
        self.vocab = vocab
        # Entries pointing outside the vocabulary could only ever give UNK; a vocabulary word reads as itself.
        self.synonyms = {word: known for word, known in synonyms.items() if known in vocab and word not in vocab}

    @classmethod
    def load(cls, folder: Path) -> Vocabulary:
        """The vocabulary of a sprite tokenizer folder (``vocab.json`` and, since v2, ``synonyms.json``)."""
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        synonyms_path = folder / SYNONYMS_FILE
        synonyms = json.loads(synonyms_path.read_text(encoding="utf-8")) if synonyms_path.is_file() else {}
        return cls(vocab, synonyms)

    def known_form(self, word: str) -> tuple[ReadAs, str | None]:
        # Plurals in prompts ("cats", "boxes") map to the singular the captions use, and so do the plurals of
        # words the synonym table knows ("puppies" → "puppy" → "dog").
        if word in self.vocab:
            return ReadAs.KNOWN, word
        if (found := singular(word, self.vocab)) is not None:
            return ReadAs.PLURAL, found
        found = self.synonyms.get(word)
        if found is None and (base := singular(word, self.synonyms)) is not None:
            found = self.synonyms[base]
        return (ReadAs.NEAREST, found) if found is not None else (ReadAs.UNKNOWN, None)

    def read(self, prompt: str) -> list[WordReading]:
        """Each word of the prompt the model does not drop as a function word, and what it reads it as."""
        readings = []
        for word in words(prompt):
            read_as, known = self.known_form(word)
            readings.append(WordReading(word=word, read_as=read_as, known_word=known))
        return readings

    def summary(self) -> VocabularySummary:
        return VocabularySummary(words=len(self.vocab.keys() - SPECIAL_TOKENS), nearest_words=len(self.synonyms))
