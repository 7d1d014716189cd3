"""train_sprite.py --smoke end to end: a few CPU steps, a loadable pipeline directory, a model card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert "CPU preview" in card and "Open Font License" in card
    assert "--smoke" in card

    from safetensors import safe_open

    with safe_open(out / "unet" / "diffusion_pytorch_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # noqa: SIM118 - safe_open has no __iter__

    pipe = SpritePipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    images = pipe("red disc", num_inference_steps=2, output_type="np").images
    assert images.shape == (1, 32, 32, 4) and np.isfinite(images).all()
