from __future__ import annotations

from pathlib import Path

from pixelforge.backends.sprite.tokenizer import BOS, UNK, SpriteTokenizer
from pixelforge.backends.vocabulary import words


def test_words_lowercase_strip_punctuation_accents_and_stopwords() -> None:
    assert words("A Knight, with a SWORD!!") == ["knight", "sword"]
    assert words("Piñata — man's  o'clock") == ["pinata", "mans", "oclock"]
    assert words("") == []


def test_chinese_splits_into_ideographs_without_function_characters() -> None:
    assert words("一个红苹果") == ["红", "苹", "果"]
    assert words("红苹果, red apple") == ["红", "苹", "果", "red", "apple"]


def test_vocabulary_folds_plurals_into_their_singulars() -> None:
    vocab = SpriteTokenizer.build_vocab(["two hearts", "red heart", "boxes", "box", "glasses"])
    assert "heart" in vocab and "hearts" not in vocab
    assert "box" in vocab and "boxes" not in vocab
    assert "glasses" in vocab  # no "glass" caption: a plural alone stays a word of its own


def test_unknown_words_map_to_unk_and_plurals_to_known_singulars(tiny_pipe) -> None:
    tok = tiny_pipe.tokenizer
    assert tok.tokenize("cats with zebras") == ["cat", UNK]
    ids = tok("zebra apple").input_ids
    assert ids == [tok.bos_token_id, tok.unk_token_id, tok.vocab["apple"]]


def test_empty_prompt_is_bos_only_and_pads_to_max_length(tiny_pipe) -> None:
    tok = tiny_pipe.tokenizer
    batch = tok(["", "...", "the a with"], padding="max_length", max_length=tok.model_max_length, return_tensors="pt")
    assert batch.input_ids.shape == (3, tok.model_max_length)
    for row, mask in zip(batch.input_ids.tolist(), batch.attention_mask.tolist(), strict=True):
        assert row[0] == tok.convert_tokens_to_ids(BOS)
        assert set(row[1:]) == {tok.pad_token_id}
        assert mask == [1] + [0] * (tok.model_max_length - 1)


def test_long_prompts_are_truncated(tiny_pipe) -> None:
    tok = tiny_pipe.tokenizer
    ids = tok(" ".join(["castle"] * 40), truncation=True, max_length=tok.model_max_length).input_ids
    assert len(ids) == tok.model_max_length


def test_save_and_load_round_trip(tiny_pipe, tmp_path: Path) -> None:
    tiny_pipe.tokenizer.save_pretrained(tmp_path)
    loaded = SpriteTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tiny_pipe.tokenizer.get_vocab()
    assert loaded("Blue hearts!").input_ids == tiny_pipe.tokenizer("Blue hearts!").input_ids


def test_synonym_table_maps_unseen_words_to_known_ones_and_round_trips(vocab, tmp_path: Path) -> None:
    from pixelforge.backends.sprite.presets import build_pipeline

    tok = build_pipeline(vocab, "tiny").tokenizer
    assert tok.tokenize("a kitten and a fortress") == [UNK, UNK]
    # "cat" is known; "apple" is a vocabulary word itself, so it cannot be redirected; "dragon" is not known.
    tok.with_synonyms({"kitten": "cat", "fortress": "castle", "apple": "heart", "wyrm": "dragon"})
    assert tok.synonyms == {"kitten": "cat", "fortress": "castle"}
    assert tok.tokenize("kittens by a fortress, an apple") == ["cat", "castle", "apple"]
    assert tok.tokenize("a wyrm") == [UNK]

    tok.save_pretrained(tmp_path)
    assert (tmp_path / "synonyms.json").is_file()
    loaded = SpriteTokenizer.from_pretrained(tmp_path)
    assert loaded.synonyms == tok.synonyms
    assert loaded("kittens").input_ids == [loaded.bos_token_id, loaded.vocab["cat"]]


def test_a_tokenizer_saved_without_synonyms_loads_with_none(tiny_pipe, tmp_path: Path) -> None:
    tiny_pipe.tokenizer.save_pretrained(tmp_path)
    assert not (tmp_path / "synonyms.json").exists()
    assert SpriteTokenizer.from_pretrained(tmp_path).synonyms == {}


def test_plurals_ending_in_ies_fold_to_their_singular() -> None:
    vocab = SpriteTokenizer.build_vocab(["cherry", "two cherries", "puppies"])
    assert "cherry" in vocab and "cherries" not in vocab
    assert "puppies" in vocab  # no "puppy" caption: it stays a word of its own
