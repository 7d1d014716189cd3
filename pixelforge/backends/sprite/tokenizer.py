"""A word-level tokenizer whose vocabulary is the words of the sprite captions.

It subclasses transformers' slow `PreTrainedTokenizer` for one reason: diffusers only knows how to save
and load pipeline components that derive from a class it recognises, and this is the recognised base
class for tokenizers. Everything word-specific lives here; padding, truncation and tensors come from
the base class, so the pipeline calls it exactly as diffusers pipelines call CLIP's tokenizer.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

from transformers import PreTrainedTokenizer

from pixelforge.backends.vocabulary import SYNONYMS_FILE, VOCAB_FILE, Vocabulary, singular, words

from .styles import STYLES_FILE, StyleTable

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"


class SpriteTokenizer(PreTrainedTokenizer):
    """Words of the vocabulary; plurals to their singulars; any other word through the synonym table (a word
    the model never saw → the nearest word it knows: a WordNet synonym, else a hypernym), else UNK.

    The synonym table (synonyms.json) ships with the weights, built at training time (training/wordnet_links.py),
    so no WordNet is needed at run time; a model saved without one (v1) maps unknown words to UNK.
    """

    vocab_files_names = {"vocab_file": VOCAB_FILE, "synonyms_file": SYNONYMS_FILE,  # noqa: RUF012 - as the base
                         "styles_file": STYLES_FILE}
    model_input_names = ["input_ids", "attention_mask"]  # noqa: RUF012

    def __init__(self, vocab_file: str, synonyms_file: str | None = None, model_max_length: int = 16,
                 styles_file: str | None = None, **kwargs: Any) -> None:
        with open(vocab_file, encoding="utf-8") as f:
            vocab: dict[str, int] = json.load(f)
        synonyms: dict[str, str] = {}
        if synonyms_file is not None and os.path.isfile(synonyms_file):
            with open(synonyms_file, encoding="utf-8") as f:
                synonyms = json.load(f)
        self.vocabulary = Vocabulary(vocab, synonyms)
        # A model trained with style tokens (styles.py) ships their table; the pipeline gives each image one.
        self.styles: StyleTable | None = None
        if styles_file is not None and os.path.isfile(styles_file):
            with open(styles_file, encoding="utf-8") as f:
                self.styles = json.load(f)
        self.ids_to_tokens: dict[int, str] = {i: w for w, i in self.vocab.items()}
        kwargs.setdefault("pad_token", PAD)
        kwargs.setdefault("unk_token", UNK)
        kwargs.setdefault("bos_token", BOS)
        super().__init__(model_max_length=model_max_length, **kwargs)  # type: ignore[no-untyped-call]  # transformers leaves it unannotated

    @staticmethod
    def build_vocab(captions: Iterable[str], min_count: int = 1) -> dict[str, int]:
        """Vocabulary of every caption word seen at least `min_count` times; specials take ids 0, 1, 2.

        A plural whose singular is also a caption word is folded into it ("hearts" counts as "heart"), so
        both forms train one embedding; the tokenizer maps the plural to the singular at use.
        """
        counts = Counter(w for caption in captions for w in words(caption))
        for word in list(counts):
            base = singular(word, counts)
            if base is not None:
                counts[base] += counts.pop(word)
        kept = sorted(w for w, n in counts.items() if n >= min_count)
        return {token: i for i, token in enumerate([PAD, UNK, BOS, *kept])}

    @property
    def vocab(self) -> dict[str, int]:
        return self.vocabulary.vocab

    @property
    def synonyms(self) -> dict[str, str]:
        return self.vocabulary.synonyms

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        return [self._known_form(w) for w in words(text)]

    def _known_form(self, word: str) -> str:
        return self.vocabulary.known_form(word)[1] or UNK

    def with_synonyms(self, synonyms: dict[str, str]) -> None:
        """Adopt a synonym table (unknown word → vocabulary word)."""
        self.vocabulary = Vocabulary(self.vocab, synonyms)

    def with_styles(self, table: StyleTable) -> None:
        """Adopt a style table (training/train_sprite.py --style-tokens builds it from the captions)."""
        self.styles = table

    def known_words(self, text: str) -> list[str]:
        """The words of `text` the model reads, each in the form it knows (unknown words left out)."""
        return [w for w in map(self._known_form, words(text)) if w != UNK]

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.vocab[UNK])

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, UNK)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        # Every sequence starts with BOS, so even the empty prompt (the unconditional branch of CFG) has one
        # token to attend to and its padding mask is never all-masked.
        return [self.bos_token_id, *token_ids_0, *(token_ids_1 or [])]

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens: bool = False
    ) -> list[int]:
        if already_has_special_tokens:
            return [int(t in (self.pad_token_id, self.bos_token_id, self.unk_token_id)) for t in token_ids_0]
        return [1] + [0] * (len(token_ids_0) + len(token_ids_1 or []))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 1

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        paths = []
        tables: tuple[tuple[str, object], ...] = (("vocab_file", self.vocab), ("synonyms_file", self.synonyms),
                                                  ("styles_file", self.styles))
        for key, table in tables:
            if key != "vocab_file" and not table:
                continue
            path = os.path.join(save_directory, prefix + self.vocab_files_names[key])
            with open(path, "w", encoding="utf-8") as f:
                json.dump(table, f, ensure_ascii=False, indent=0, sort_keys=key == "synonyms_file")
            paths.append(path)
        return tuple(paths)
