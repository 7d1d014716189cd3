"""The bundled sprite model: a small text-to-sprite diffusion pipeline that runs on any CPU."""

from pixelforge.backends.presets import sprite_weights_dir as weights_dir

from .pipeline import SpritePipeline, SpritePipelineOutput
from .text_encoder import SpriteTextEncoder
from .tokenizer import SpriteTokenizer

# weights_dir(): the pipeline directory shipped inside the package (load it with SpritePipeline.from_pretrained).
__all__ = ["SpritePipeline", "SpritePipelineOutput", "SpriteTextEncoder", "SpriteTokenizer", "weights_dir"]
