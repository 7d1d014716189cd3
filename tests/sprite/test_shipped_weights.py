"""The pipeline shipped inside the package loads offline and draws 32×32 sprites with binary alpha."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch

from pixelforge.backends.sprite import SpritePipeline, weights_dir
from training.model_card import training_stages


def test_weights_dir_is_inside_the_package_and_small() -> None:
    root = weights_dir()
    assert (root / "model_index.json").is_file()
    size = sum(p.stat().st_size for p in root.rglob("*.safetensors"))
    assert 0 < size <= 40 * 2**20


def test_model_card_says_which_run_it_is() -> None:
    card = (weights_dir() / "README.md").read_text()
    training = json.loads((weights_dir() / "training.json").read_text())
    assert training["run"] in card and training["command"] in card and training["device"] in card
    assert all(stage["command"] in card for stage in training_stages(training))  # every stage is named
    assert "What it knows" in card and "does not" in card
    assert "Open Font License" in card and "retrieval accuracy" in card
    assert "natural prompts" in card or "everyday prompts" in card  # v1's evaluation named them "natural"


def test_shipped_pipeline_generates_rgba_sprites(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = SpritePipeline.from_pretrained(weights_dir())
    pipe.set_progress_bar_config(disable=True)
    assert pipe.unet.dtype == torch.float32
    images = pipe("red apple", num_images_per_prompt=2, num_inference_steps=8,
                  generator=[torch.Generator().manual_seed(s) for s in (0, 1)]).images
    for image in images:
        assert isinstance(image, PIL.Image.Image) and image.mode == "RGBA" and image.size == (32, 32)
        rgba = np.asarray(image)
        assert set(np.unique(rgba[..., 3])) <= {0, 255}
        assert (rgba[..., 3] == 255).any()  # something is drawn
        assert not rgba[rgba[..., 3] == 0].any()
