"""eval_sprite.py end to end on a tiny pipeline and a handmade dataset: every figure, and the model it
evaluates left untouched unless --card asks for its eval.json and card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.eval_sprite import Sprites, distinct_nearest, evaluate, key_noun_hit, parse_args
from training.sprite_eval_prompts import EVERYDAY, GAME


def _sprites() -> Sprites:
    images = np.zeros((3, 32, 32, 4), np.uint8)
    images[0, :16] = (255, 0, 0, 255)  # top half red
    images[1, 16:] = (0, 0, 255, 255)  # bottom half blue
    images[2] = (0, 255, 0, 255)
    return Sprites(images, [{"red apple", "apple"}, {"blue fish"}, {"green frog", "frogs"}], ["red apple", "blue fish",
                   "green frog"], np.array([False, False, True]))


def test_key_noun_hits_and_distinct_nearest_sprites() -> None:
    sprites = _sprites()
    generated = sprites.images[[0, 0, 1, 2]].copy()
    assert key_noun_hit(generated, frozenset({"apple"}), sprites) == 0.5
    assert key_noun_hit(generated, frozenset({"frog"}), sprites) == 0.25  # "frogs" folds to the key noun
    assert distinct_nearest(generated, sprites) == 3
    assert distinct_nearest(sprites.images[[1, 1, 1, 1]], sprites) == 1


def test_prompt_sets_are_large_enough_and_bilingual() -> None:
    assert len(EVERYDAY) >= 30 and len(GAME) >= 30
    for prompts in (EVERYDAY, GAME):
        assert any(all("\u4e00" <= ch <= "\u9fff" for ch in prompt) for prompt, _ in prompts)
        assert all(keys for _, keys in prompts)


def _model_and_data(tiny_pipe, tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "model"
    tiny_pipe.save_pretrained(model)
    data = tmp_path / "data"
    data.mkdir()
    sprites = _sprites()
    np.savez_compressed(data / "sprites.npz", images=sprites.images, held_out=sprites.held_out)
    (data / "captions.json").write_text(json.dumps([{"name": n, "captions": sorted(c)}
                                                    for n, c in zip(sprites.names, sprites.captions, strict=True)]))
    return model, data


def test_evaluate_writes_json_and_touches_the_model_only_with_card(tiny_pipe, tmp_path: Path) -> None:
    model, data = _model_and_data(tiny_pipe, tmp_path)
    before = sorted(p.name for p in model.iterdir())
    out = tmp_path / "eval.json"
    args = parse_args(["--model", str(model), "--data", str(data), "--prompts", "1", "--steps", "1", "--json",
                       str(out)])
    results = evaluate(args)
    assert sorted(p.name for p in model.iterdir()) == before  # the evaluated weights stay as they were
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(results, ensure_ascii=False))
    assert set(written["everyday_hits"]) == {p for p, _ in EVERYDAY} and len(written["game_hits"]) == len(GAME)
    # The mean, over every everyday and game prompt, of whole counts of the 3 sprites (distinct_nearest is tested
    # exactly above): a figure over another set of prompts, or of something else, fails one of these.
    variety = written["distinct_per_four_seeds"] * (len(EVERYDAY) + len(GAME))
    assert abs(variety - round(variety)) < 1e-6 and len(EVERYDAY) + len(GAME) <= round(variety) <= 3 * (
        len(EVERYDAY) + len(GAME))
    assert 0 <= written["held_out_accuracy"] <= 1 and 0 <= written["train_accuracy"] <= 1


def test_parts_runs_only_the_parts_named(tiny_pipe, tmp_path: Path) -> None:
    model, data = _model_and_data(tiny_pipe, tmp_path)
    results = evaluate(parse_args(["--model", str(model), "--data", str(data), "--steps", "1",
                                   "--parts", "game,everyday"]))
    assert "everyday_hit_rate" in results and "game_hit_rate" in results
    assert "held_out_accuracy" not in results and "train_accuracy" not in results


@pytest.mark.parametrize("argv", [["--parts", "everyday,colour"], ["--parts", ","], ["--parts", "game", "--card"]])
def test_bad_parts_are_refused_with_a_message(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--model", "m", *argv])
    assert exit_.value.code == 2 and ("part" in capsys.readouterr().err)
