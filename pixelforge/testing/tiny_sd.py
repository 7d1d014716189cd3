"""A tiny random Stable Diffusion pipeline, built fully offline (no hub), for tests.

Built the way diffusers' own tests build their dummy components (``get_dummy_components`` of its
StableDiffusionPipeline tests): a two-block UNet2DConditionModel, a two-block AutoencoderKL (4 latent
channels, so SD 1.x's preview map applies), a 5-layer CLIPTextModel and DDIM (with the ``steps_offset`` of
SD's own scheduler config, which diffusers warns about otherwise). Their tokenizer is
downloaded (``hf-internal-testing/tiny-random-clip``); this one is made in code instead: a CLIP BPE with no
merges over the byte-level alphabet, so every character is one token and any prompt tokenises.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from tokenizers import pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# Tokens per prompt (CLIP's is 77): short prompts only, and a text encoder that fits.
MAX_TOKENS = 32


def build_tokenizer() -> CLIPTokenizer:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    # CLIP's BPE marks a word's last symbol with "</w>": each byte needs both forms.
    symbols = alphabet + [f"{symbol}</w>" for symbol in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {symbol: index for index, symbol in enumerate(symbols)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_TOKENS)


def build_tiny_sd_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=2,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[4, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
    )
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_TOKENS,
    )
    return StableDiffusionPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=vae,
        text_encoder=CLIPTextModel(config).eval(),
        tokenizer=tokenizer,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_sd_pipeline(directory: Path | str) -> Path:
    """Build the tiny pipeline and ``save_pretrained`` it; returns the directory."""
    directory = Path(directory)
    build_tiny_sd_pipeline().save_pretrained(directory)
    return directory
