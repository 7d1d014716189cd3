"""What a word-level model knows, told word by word: the reading the UI, the CLI and the API show is the one its
tokenizer gives the model."""

from __future__ import annotations

import json
from pathlib import Path

from pixelforge.backends.sprite.tokenizer import UNK, SpriteTokenizer
from pixelforge.backends.vocabulary import ReadAs, Vocabulary, VocabularySummary, WordReading

VOCAB = {"<pad>": 0, "<unk>": 1, "<bos>": 2, "cat": 3, "dog": 4, "puppy": 5, "red": 6, "box": 7, "果": 8}
SYNONYMS = {"kitty": "cat", "hound": "dog", "crimson": "red", "pup": "puppy", "tiger": "lion", "dog": "hound"}


def reading(word: str, read_as: ReadAs, known: str | None) -> WordReading:
    return WordReading(word=word, read_as=read_as, known_word=known)


def test_each_word_is_known_a_plural_read_as_the_nearest_or_ignored() -> None:
    vocabulary = Vocabulary(VOCAB, SYNONYMS)
    assert vocabulary.read("A crimson Kitty with two boxes, hounds and a zorp; 果") == [
        reading("crimson", ReadAs.NEAREST, "red"),
        reading("kitty", ReadAs.NEAREST, "cat"),
        reading("two", ReadAs.UNKNOWN, None),
        reading("boxes", ReadAs.PLURAL, "box"),
        reading("hounds", ReadAs.NEAREST, "dog"),  # the plural of a word the table knows
        reading("zorp", ReadAs.UNKNOWN, None),
        reading("果", ReadAs.KNOWN, "果"),
    ]
    assert vocabulary.read("the and of") == []


def test_the_table_keeps_only_links_into_the_vocabulary() -> None:
    vocabulary = Vocabulary(VOCAB, SYNONYMS)
    # "tiger" → "lion" leads nowhere the model knows; "dog" is a word of its own
    assert vocabulary.synonyms == {"kitty": "cat", "hound": "dog", "crimson": "red", "pup": "puppy"}
    assert vocabulary.summary() == VocabularySummary(words=6, nearest_words=4)


def test_the_tokenizer_reads_prompts_as_the_vocabulary_tells(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text(json.dumps(VOCAB))
    (tmp_path / "synonyms.json").write_text(json.dumps(SYNONYMS))
    tokenizer = SpriteTokenizer.from_pretrained(tmp_path)
    loaded = Vocabulary.load(tmp_path)
    prompt = "two crimson kitties, a pup and a zorp"
    told = [word.known_word or UNK for word in loaded.read(prompt)]
    assert tokenizer.tokenize(prompt) == told == [UNK, "red", "cat", "puppy", UNK]


def test_a_vocabulary_saved_without_a_table_reads_only_its_words(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text(json.dumps(VOCAB))
    vocabulary = Vocabulary.load(tmp_path)
    assert vocabulary.read("kitty cats") == [reading("kitty", ReadAs.UNKNOWN, None),
                                             reading("cats", ReadAs.PLURAL, "cat")]
    assert vocabulary.summary().nearest_words == 0
