"""A tiny random Qwen-Image pipeline, built fully offline (no hub), for tests and CPU benchmarks.

Same classes as the real Qwen/Qwen-Image-2512 pipeline (QwenImageTransformer2DModel, the Wan
VAE, a Qwen2.5-VL text encoder, FlowMatchEuler), with configs as small as diffusers' own tests use.
The tokenizer is a byte-level BPE with no merges, built in code: every byte is one token, so the
chat template the pipeline wraps around the prompt still tokenises as the pipeline expects.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImagePipeline,
    QwenImageTransformer2DModel,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2TokenizerFast


def build_tokenizer() -> Qwen2TokenizerFast:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    vocab["<|endoftext|>"] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return Qwen2TokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def build_tiny_qwen_pipeline(num_layers: int = 2, seed: int = 0) -> QwenImagePipeline:
    tokenizer = build_tokenizer()
    vocab_size = len(tokenizer)
    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=16,
        out_channels=4,
        num_layers=num_layers,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=16,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    vae = AutoencoderKLQwenImage(
        base_dim=24,
        z_dim=4,
        dim_mult=[1, 2, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True],
        latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4,
    )
    special = vocab_size - 1
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
            "vocab_size": vocab_size,
            "bos_token_id": special,
            "eos_token_id": special,
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        hidden_size=16,
        vocab_size=vocab_size,
        bos_token_id=special,
        eos_token_id=special,
        vision_end_token_id=special,
        vision_start_token_id=special,
        vision_token_id=special,
    )
    text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    return QwenImagePipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def save_tiny_qwen_pipeline(directory: Path | str, num_layers: int = 2) -> Path:
    """Build the tiny pipeline and ``save_pretrained`` it; returns the directory."""
    directory = Path(directory)
    build_tiny_qwen_pipeline(num_layers=num_layers).save_pretrained(directory)
    return directory


def save_tiny_lora(pipe_dir: Path | str, path: Path | str, rank: int = 2) -> Path:
    """A real (random) PEFT LoRA for the tiny transformer's attention projections, in diffusers' format."""
    from peft import LoraConfig, get_peft_model_state_dict

    pipe = QwenImagePipeline.from_pretrained(str(pipe_dir), local_files_only=True)
    pipe.transformer.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v"]))
    with torch.no_grad():
        for name, param in pipe.transformer.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    state = get_peft_model_state_dict(pipe.transformer)
    QwenImagePipeline.save_lora_weights(
        save_directory=str(Path(path).parent), transformer_lora_layers=state, weight_name=Path(path).name
    )
    return Path(path)
