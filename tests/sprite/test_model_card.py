"""The model card states only what its training.json and eval.json say."""

from __future__ import annotations

from training.model_card import render


def _stage(device: str, warm_start: dict | None = None) -> dict:
    stage = {"run": "sprite-wide", "preset": "wide", "device": device, "minutes": 60.0, "steps": 10, "batch": 64,
             "samples_seen": 640, "sprites": 3414, "concepts": 1738, "vocab": 4397, "final_loss": 0.06,
             "command": f"training/train_sprite.py --device-was '{device}'", "parameters": 11e6}
    return {**stage, "warm_start": warm_start} if warm_start else stage


EVALUATION = {"command": "training/eval_sprite.py", "prompts": 64, "images_per_prompt": 4, "steps": 20,
              "guidance_scale": 4.0, "train_accuracy": 0.6, "train_baseline": 0.0003, "held_out_accuracy": 0.1,
              "held_out_baseline": 0.0003, "natural_prompts": 3, "natural_hit_rate": 0.5,
              "natural_hits": {"a cute cat": 1.0, "a pine tree": 0.25, "小狗": 0.0}}


def test_stages_on_different_devices_are_not_summed_up_as_the_last_ones() -> None:
    card = render(_stage("CPU, 2 threads, bf16 autocast", _stage("CPU, 1 thread")), EVALUATION)
    assert "Trained for 120 minutes in all, in 2 stages (below)." in card
    assert "min on CPU, 1 thread;" in card and "min on CPU, 2 threads, bf16 autocast;" in card


def test_one_device_for_every_stage_is_named_once_up_front() -> None:
    card = render(_stage("CPU, 2 threads", _stage("CPU, 2 threads")), None)
    assert "Trained for 120 minutes in all on CPU, 2 threads, in 2 stages (below)." in card
    assert "Not evaluated yet" in card


def test_the_card_says_which_everyday_prompts_it_draws_and_which_not_from_the_scores() -> None:
    card = render(_stage("CPU, 2 threads"), EVALUATION)
    assert "at least three quarters of the images show what was asked for with “a cute cat”;" in card
    assert "not one does with “小狗”." in card
    assert "- a pine tree: 0.25" in card and "| 0.600 | 0.0003 |" in card


def test_a_card_of_v2_data_lists_every_source_with_its_licence_spelt_out() -> None:
    credits = [{"source": "Noto Color Emoji (font)", "licence": "OFL-1.1", "count": 3789, "author": "Google Inc",
                "url": "", "version": "", "note": ""},
               {"source": "@iconify-json/twemoji", "licence": "CC-BY-4.0", "count": 3944, "author": "Twitter",
                "url": "https://github.com/jdecked/twemoji", "version": "1.2.5", "note": "rendered with resvg"}]
    evaluation = {**EVALUATION, "everyday_prompts": 1, "everyday_hit_rate": 1.0, "everyday_hits": {"a cute cat": 1.0},
                  "game_prompts": 1, "game_hit_rate": 0.0, "game_hits": {"an orc": 0.0}, "distinct_per_four_seeds": 2.5}
    card = render({**_stage("CPU, 2 threads"), "credits": credits}, evaluation)
    assert "| @iconify-json/twemoji 1.2.5 | CC-BY-4.0 | 3944 | rendered with resvg |" in card
    assert ("- @iconify-json/twemoji, © Twitter, Creative Commons Attribution 4.0 "
            "(https://github.com/jdecked/twemoji)") in card
    assert "SIL Open Font License 1.1" in card and "synonyms.json" in card
    assert ("everyday prompts of the evaluation, at least three quarters of the images show what was asked for with "
            "“a cute cat”") in card
    assert "not one does with “an orc”." in card and "| 2.50 |" in card
