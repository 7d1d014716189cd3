"""Architectures of the sprite model and a builder for an untrained pipeline (training and tests use it).

Four sizes. "gpu" was sized for a GPU session to train within a 2 s budget for 20 CFG steps on a 2-core CPU,
which bounds its width and keeps attention off the 32×32 and 16×16 levels (measured since: 2.2-2.5 s, just over).
"cpu" trains at ~75 samples/s on 2 cores and learned what it could in 1.5 M samples; "wide" is cpu with wider
8×8 and 4×4 levels, grown from trained cpu weights (training/widen.py): the shipped model. "tiny" is for tests.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler

from .pipeline import SpritePipeline
from .text_encoder import SpriteTextEncoder
from .tokenizer import SpriteTokenizer

SPRITE_SIZE = 32
MAX_TOKENS = 16

PRESETS: dict[str, dict[str, Any]] = {
    # tests only: builds and runs in milliseconds
    "tiny": {"channels": (8, 16, 16), "attention": (False, False, True), "layers_per_block": 1, "groups": 8,
             "text_dim": 32, "text_layers": 1, "heads": 2},
    # 2.6 M parameters, 0.3 GFLOP per forward: ~50 training samples/s on one AVX2 core.
    "cpu": {"channels": (16, 32, 64, 96), "attention": (False, False, True, True), "layers_per_block": 1,
            "groups": 16, "text_dim": 128, "text_layers": 2, "heads": 4},
    # "cpu" with its 8×8 and 4×4 levels twice as wide, where the layout of a sprite and its link to the prompt
    # are decided: 10 M parameters in the UNet, half cpu's training speed, 1.4 s per sprite on one core. It is
    # grown from trained cpu weights (training/widen.py) rather than trained from scratch.
    "wide": {"channels": (16, 32, 128, 192), "attention": (False, False, True, True), "layers_per_block": 1,
             "groups": 16, "text_dim": 128, "text_layers": 2, "heads": 4},
    # 18 M parameters (36 MB in fp16), 1.6 GFLOP per forward: 40 forwards (20 CFG steps) take 2.2-2.5 s on 2 cores.
    "gpu": {"channels": (32, 64, 128, 192), "attention": (False, False, True, True), "layers_per_block": 2,
            "groups": 32, "text_dim": 256, "text_layers": 3, "heads": 8},
}


def build_unet(preset: str) -> UNet2DConditionModel:
    # Attention only at 8×8 and below: at 32×32 and 16×16 it would cost most of the FLOPs of the model, and
    # the pooled prompt embedding (class_embed_type="projection") already reaches every resnet block.
    p = PRESETS[preset]
    unet: UNet2DConditionModel = UNet2DConditionModel(
        sample_size=SPRITE_SIZE,
        in_channels=4,
        out_channels=4,
        down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in p["attention"]),
        up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(p["attention"])),
        block_out_channels=p["channels"],
        layers_per_block=p["layers_per_block"],
        norm_num_groups=p["groups"],
        cross_attention_dim=p["text_dim"],
        attention_head_dim=p["heads"],  # diffusers' legacy name: this is the number of heads
        class_embed_type="projection",
        projection_class_embeddings_input_dim=p["text_dim"],
    )
    return unet


def build_scheduler() -> FlowMatchEulerDiscreteScheduler:
    # shift=1: at 32×32 the signal is already gone at moderate noise, so no extra time at high sigma is needed.
    scheduler: FlowMatchEulerDiscreteScheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    return scheduler


def build_pipeline(vocab: dict[str, int], preset: str = "cpu") -> SpritePipeline:
    """A freshly initialised pipeline whose tokenizer knows exactly `vocab`."""
    p = PRESETS[preset]
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.json"
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False))
        tokenizer = SpriteTokenizer(str(vocab_file), model_max_length=MAX_TOKENS)
    text_encoder = SpriteTextEncoder(
        vocab_size=len(vocab), dim=p["text_dim"], num_layers=p["text_layers"], num_heads=p["heads"],
        max_length=MAX_TOKENS,
    )
    return SpritePipeline(unet=build_unet(preset), text_encoder=text_encoder, tokenizer=tokenizer,
                          scheduler=build_scheduler())

