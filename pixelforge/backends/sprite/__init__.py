"""The bundled sprite model: a small text-to-sprite diffusion pipeline that runs on any CPU."""

from pathlib import Path

from .pipeline import SpritePipeline, SpritePipelineOutput
from .text_encoder import SpriteTextEncoder
from .tokenizer import SpriteTokenizer

__all__ = ["SpritePipeline", "SpritePipelineOutput", "SpriteTextEncoder", "SpriteTokenizer", "weights_dir"]


def weights_dir() -> Path:
    """The pipeline directory shipped inside the package (load it with `SpritePipeline.from_pretrained`)."""
    return Path(__file__).parent / "weights"
