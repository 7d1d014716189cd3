"""train_sprite.py --smoke end to end: a few CPU steps, a loadable pipeline directory, a model card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelforge.backends.sprite import SpritePipeline

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_training_writes_a_loadable_fp16_pipeline_and_a_card(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    subprocess.run([sys.executable, str(ROOT / "training" / "train_sprite.py"), "--smoke", "--out", str(out)],
                   check=True, cwd=tmp_path, capture_output=True, timeout=240)
    stats = json.loads((out / "training.json").read_text())
    assert stats["steps"] == 3 and stats["preset"] == "tiny"
    card = (out / "README.md").read_text()
    assert "Trained for" in card and "Open Font License" in card
    assert "--smoke" in card

    from safetensors import safe_open

    with safe_open(out / "unet" / "diffusion_pytorch_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # noqa: SIM118 - safe_open has no __iter__

    pipe = SpritePipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    images = pipe("red disc", num_inference_steps=2, output_type="np").images
    assert images.shape == (1, 32, 32, 4) and np.isfinite(images).all()


def _smoke(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "training" / "train_sprite.py"), "--smoke", "--out", str(out),
                           *extra], check=True, capture_output=True, text=True, timeout=240)


def test_bf16_autocast_on_a_cpu_trains_finite_weights_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "bf16"
    _smoke(out, "--bf16")
    stats = json.loads((out / "training.json").read_text())
    assert stats["device"] == "CPU, 1 thread, bf16 autocast"
    assert np.isfinite(stats["final_loss"])
    pipe = SpritePipeline.from_pretrained(out)
    assert all(torch.isfinite(p).all() for p in pipe.unet.parameters())


def test_resume_continues_from_the_checkpoint_with_its_step_and_time(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _smoke(out, "--max-steps", "2")
    first = torch.load(out / "checkpoint.pt", weights_only=False)
    assert first["step"] == 2
    resumed = _smoke(out, "--max-steps", "4", "--resume")
    assert "resumed at step 2" in resumed.stdout
    stats = json.loads((out / "training.json").read_text())
    assert stats["steps"] == 4 and stats["samples_seen"] == 4 * 8
    assert stats["minutes"] * 60 >= first["elapsed"]  # the budget counts the first run's time too


def test_checkpoint_round_trip_restores_weights_optimiser_and_random_streams(tmp_path: Path) -> None:
    from training.train_sprite import RunState, load_checkpoint, save_checkpoint

    def parts(seed: int) -> tuple[torch.nn.Module, torch.nn.Module, torch.optim.Optimizer, torch.Generator]:
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        return model, torch.nn.Linear(3, 2), optimizer, torch.Generator().manual_seed(seed)

    model, ema, optimizer, gen = parts(1)
    save_checkpoint(tmp_path / "c.pt", RunState(7, 12.5, [0.3]), model, ema, optimizer, gen, {"a": 0})
    expected_draw = torch.rand(3, generator=gen)
    model2, ema2, optimizer2, gen2 = parts(2)
    state = load_checkpoint(tmp_path / "c.pt", model2, ema2, optimizer2, gen2, {"a": 0})
    assert (state.step, state.elapsed, state.losses) == (7, 12.5, [0.3])
    assert torch.equal(model2.weight, model.weight) and torch.equal(ema2.bias, ema.bias)
    assert torch.equal(optimizer2.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.rand(3, generator=gen2), expected_draw)
    with pytest.raises(SystemExit, match="another vocabulary"):
        load_checkpoint(tmp_path / "c.pt", model2, ema2, optimizer2, gen2, {"b": 0})


def test_warm_start_keeps_the_unet_and_every_word_both_vocabularies_share() -> None:
    from pixelforge.backends.sprite.presets import build_pipeline
    from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
    from training.train_sprite import warm_start

    torch.manual_seed(0)
    source = build_pipeline(SpriteTokenizer.build_vocab(["red apple", "cat"]), "tiny")
    target = build_pipeline(SpriteTokenizer.build_vocab(["red apple", "green tree", "红苹果"]), "tiny")
    warm_start(target, source)
    for name, tensor in source.unet.state_dict().items():
        assert torch.equal(target.unet.state_dict()[name], tensor)
    src_emb, tgt_emb = source.text_encoder.token_embedding.weight, target.text_encoder.token_embedding.weight
    src_vocab, tgt_vocab = source.tokenizer.get_vocab(), target.tokenizer.get_vocab()
    for word in ("red", "apple", "<bos>"):
        assert torch.equal(tgt_emb[tgt_vocab[word]], src_emb[src_vocab[word]])
    assert not torch.equal(tgt_emb[tgt_vocab["tree"]], torch.zeros_like(tgt_emb[0]))  # new words: fresh init
    assert torch.equal(target.text_encoder.layers.layers[0].linear1.weight,
                       source.text_encoder.layers.layers[0].linear1.weight)


def test_warm_start_starts_a_new_word_as_its_first_linked_word_the_source_knows() -> None:
    from pixelforge.backends.sprite.presets import build_pipeline
    from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
    from training.train_sprite import warm_start

    torch.manual_seed(0)
    source = build_pipeline(SpriteTokenizer.build_vocab(["red apple", "cat", "cup"]), "tiny")
    target = build_pipeline(SpriteTokenizer.build_vocab(["red apple", "kitty", "goblet", "orc"]), "tiny")
    warm_start(target, source, {"goblet": ["chalice", "cup", "cat"], "kitty": ["pool"]})
    src_emb, tgt_emb = source.text_encoder.token_embedding.weight, target.text_encoder.token_embedding.weight
    src_vocab, tgt_vocab = source.tokenizer.get_vocab(), target.tokenizer.get_vocab()
    assert torch.equal(tgt_emb[tgt_vocab["goblet"]], src_emb[src_vocab["cup"]])  # the first link it knows
    fresh = [tgt_emb[tgt_vocab[w]] for w in ("kitty", "orc")]  # no link the source knows: fresh
    assert not any(torch.equal(e, src_emb[i]) for e in fresh for i in range(len(src_vocab)))


def test_concept_weights_make_each_concept_weigh_one() -> None:
    from training.train_sprite import concept_weights

    weights = concept_weights(["👍", "👍", "👍", "👍", "👍", "🍎"])
    assert torch.allclose(weights, torch.tensor([0.2] * 5 + [1.0]))


def test_source_shares_fix_a_sources_part_of_the_samples() -> None:
    from training.train_sprite import concept_weights, parse_shares

    concepts = ["🍎", "🍎", "🍐", "dcss:orc", "dcss:orc", "dcss:troll", "game-icons:axe"]
    sources = ["twemoji", "noto", "noto", "dcss", "dcss", "dcss", "game-icons"]
    weights = concept_weights(concepts, sources, parse_shares("dcss=0.5,game-icons=0.2"))
    share = {s: float(sum(w for w, t in zip(weights, sources, strict=True) if t == s)) for s in set(sources)}
    assert abs(share["dcss"] - 0.5) < 1e-6 and abs(share["game-icons"] - 0.2) < 1e-6
    assert abs(share["twemoji"] + share["noto"] - 0.3) < 1e-6
    assert torch.allclose(weights[3] + weights[4], weights[5])  # within a source, each concept weighs the same
    with pytest.raises(SystemExit, match="more than 1"):
        concept_weights(concepts, sources, {"dcss": 0.9, "game-icons": 0.2})


def test_training_on_a_dataset_ships_its_synonym_table_and_credits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    images = np.zeros((4, 32, 32, 4), np.uint8)
    images[:, 8:24, 8:24] = (200, 40, 40, 255)
    np.savez_compressed(data / "sprites.npz", images=images, held_out=np.array([False, False, False, True]))
    records = [{"source": "dcss", "name": n, "concept": f"dcss:{n}", "captions": [n, f"{n} pixel art"]}
               for n in ("orc", "dog", "castle", "troll")]
    (data / "captions.json").write_text(json.dumps(records))
    (data / "wordnet_links.json").write_text(json.dumps({"puppy": ["pup", "dog"], "fortress": ["castle"],
                                                         "ogre": ["troll", "giant"]}))
    (data / "credits.json").write_text(json.dumps([{"source": "Dungeon Crawl Stone Soup tiles", "licence": "CC0-1.0",
                                                    "count": 4, "author": "", "url": "", "version": "", "note": ""}]))
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(ROOT / "training" / "train_sprite.py"), "--data", str(data), "--out", str(out),
                    "--preset", "tiny", "--max-steps", "2", "--batch", "4", "--checkpoint-minutes", "0"],
                   check=True, capture_output=True, timeout=240)
    synonyms = json.loads((out / "tokenizer" / "synonyms.json").read_text())
    assert synonyms == {"puppy": "dog", "fortress": "castle"}  # "troll" is held out: ogre stays unknown
    pipe = SpritePipeline.from_pretrained(out)
    assert pipe.tokenizer.tokenize("puppies") == ["dog"]
    assert "Dungeon Crawl Stone Soup tiles" in (out / "README.md").read_text()


def test_style_tokens_end_every_caption_and_ship_the_table(tmp_path: Path) -> None:
    out = tmp_path / "styled"
    _smoke(out, "--style-tokens")
    stats = json.loads((out / "training.json").read_text())
    assert stats["style_tokens"] == ["disc", "square"]  # the synthetic data's two sources
    pipe = SpritePipeline.from_pretrained(out)
    assert pipe.tokenizer.styles is not None and pipe.tokenizer.styles["tokens"] == ["disc", "square"]
    assert "Style tokens" in (out / "README.md").read_text()


def test_prepare_puts_the_style_token_after_the_last_word_even_of_a_caption_that_fills_the_sequence() -> None:
    from pixelforge.backends.sprite.presets import build_pipeline
    from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
    from training.train_sprite import prepare

    long = " ".join(f"w{i}" for i in range(30))
    captions = [["red apple"], [long]]
    vocab = SpriteTokenizer.build_vocab([*(c for cs in captions for c in cs), "twemoji", "dcss"])
    tokenizer = build_pipeline(vocab, "tiny").tokenizer
    data = prepare(np.zeros((2, 32, 32, 4), np.uint8), captions, torch.ones(2), tokenizer, "cpu",
                   styles=["twemoji", "dcss"])
    ids = data.caption_ids.tolist()
    length = tokenizer.model_max_length
    assert ids[0][:4] == [tokenizer.bos_token_id, vocab["red"], vocab["apple"], vocab["twemoji"]]
    assert data.caption_mask[0].tolist() == [1] * 4 + [0] * (length - 4)
    assert ids[1][-1] == vocab["dcss"] and ids[1][-2] == vocab["w13"]  # the token took the last place
    assert data.caption_mask[1].tolist() == [1] * length
    assert data.empty_ids[0, 1:].tolist() == [tokenizer.pad_token_id] * (length - 1)  # CFG's empty prompt: no token


def test_unet_lr_scale_zero_trains_the_words_and_leaves_the_unet_as_it_started(tmp_path: Path) -> None:
    _smoke(tmp_path / "start", "--lr", "0", "--checkpoint-minutes", "0")  # the initial weights, as saved
    _smoke(tmp_path / "words", "--max-steps", "3", "--unet-lr-scale", "0", "--checkpoint-minutes", "0")
    start, words = (SpritePipeline.from_pretrained(tmp_path / name) for name in ("start", "words"))
    assert all(torch.equal(a, b) for a, b in zip(start.unet.parameters(), words.unet.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(start.text_encoder.parameters(),
                                                     words.text_encoder.parameters(), strict=True))
    assert json.loads((tmp_path / "words" / "training.json").read_text())["unet_lr_scale"] == 0


def test_keep_known_words_reads_every_word_the_warm_start_knew_as_before(tmp_path: Path) -> None:
    _smoke(tmp_path / "first", "--checkpoint-minutes", "0")
    _smoke(tmp_path / "kept", "--init-from", str(tmp_path / "first"), "--keep-known-words", "--checkpoint-minutes", "0")
    first, kept = (SpritePipeline.from_pretrained(tmp_path / name) for name in ("first", "kept"))
    # The smoke data's words are all known to the warm start: the whole text encoder stays as it was.
    assert all(torch.equal(a, b) for a, b in zip(first.text_encoder.parameters(), kept.text_encoder.parameters(),
                                                 strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first.unet.parameters(), kept.unet.parameters(), strict=True))


def test_keep_known_words_trains_only_the_rows_of_new_words() -> None:
    from pixelforge.backends.sprite.presets import build_pipeline
    from pixelforge.backends.sprite.tokenizer import SpriteTokenizer
    from training.train_sprite import keep_known_words

    encoder = build_pipeline(SpriteTokenizer.build_vocab(["red apple", "cat"]), "tiny").text_encoder
    before = encoder.token_embedding.weight.detach().clone()
    trained = keep_known_words(encoder, [0, 1, 2, 3])
    assert [p for p in encoder.parameters() if p.requires_grad] == [trained]
    optimizer = torch.optim.AdamW([trained], lr=0.1, weight_decay=0.0)
    ids = torch.arange(trained.shape[0])[None]
    encoder(ids, torch.ones_like(ids)).pooled.sum().backward()
    optimizer.step()
    after = encoder.token_embedding.weight.detach()
    assert torch.equal(after[:4], before[:4]) and not torch.equal(after[4:], before[4:])


def test_keep_known_words_needs_a_warm_start(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _smoke(tmp_path / "run", "--keep-known-words")
    assert "needs --init-from" in failed.value.stderr
