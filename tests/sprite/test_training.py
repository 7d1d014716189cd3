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


def test_concept_weights_make_each_concept_weigh_one() -> None:
    from training.train_sprite import concept_weights

    weights = concept_weights(["👍", "👍", "👍", "👍", "👍", "🍎"])
    assert torch.allclose(weights, torch.tensor([0.2] * 5 + [1.0]))
