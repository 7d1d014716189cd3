"""The model families pixelforge knows, one row each: the one answer to "which family is this model?".

A family is recognised by its pipeline's class name (``_class_name`` in the pipeline directory's
``model_index.json``, or the loaded pipeline's class): the first row with a matching prefix wins, so a longer
prefix (``StableDiffusionXL``) comes before a shorter one (``StableDiffusion``). A pipeline no row names is
driven as a generic diffusers pipeline (:data:`GENERIC`).

No torch here: the server lists models through ``presets.py``, which asks this table whether a model takes
LoRAs. The adapter (the ``LoadedModel`` class that drives the family) is named as ``module:Class`` and
imported only when a model loads. Adding a family is one adapter class (if no existing one fits) and one row;
``tests/backends/test_model_contract.py`` proves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

ADAPTERS = "pixelforge.backends.adapters"


@dataclass(frozen=True)
class ModelFamily:
    name: str
    class_prefixes: tuple[str, ...]  # pipeline class names of the family start with one of these
    adapter: str  # the LoadedModel class that drives it, as "module:Class"
    latent_map: str | None  # its latent space's key in data/latent_rgb_factors.json (previews), if published
    takes_loras: bool
    # img2img and inpainting: diffusers' sibling pipelines of the same family (made with from_pipe), or the
    # pipeline's own call (it takes an image and a mask itself)
    siblings: Literal["diffusers", "own"]
    loader: str | None = None  # the pipeline class that loads it, as "module:Class"; None: DiffusionPipeline
    # Its tokenizer folder is a word vocabulary (backends/vocabulary.py): what it knows can be told word by word.
    reads_words: bool = False

    def recognises(self, pipeline_class: str) -> bool:
        return pipeline_class.startswith(self.class_prefixes)

    def adapter_class(self) -> Any:
        return _imported(self.adapter)

    def loader_class(self) -> Any:
        return _imported(self.loader or "diffusers:DiffusionPipeline")


def _imported(reference: str) -> Any:
    module, name = reference.split(":")
    return getattr(import_module(module), name)


FAMILIES: tuple[ModelFamily, ...] = (
    # The bundled sprite model: pixel space, 1× output, its own SDEdit / RePaint-style img2img and inpainting.
    ModelFamily("sprite", ("SpritePipeline",), f"{ADAPTERS}:PixelSpaceModel", latent_map=None, takes_loras=False,
                siblings="own", loader="pixelforge.backends.sprite:SpritePipeline", reads_words=True),
    ModelFamily("qwen-image", ("QwenImage",), f"{ADAPTERS}:QwenImageModel", latent_map="qwen-image",
                takes_loras=True, siblings="diffusers"),
    ModelFamily("flux", ("Flux",), f"{ADAPTERS}:FluxModel", latent_map="flux", takes_loras=True,
                siblings="diffusers"),
    # SD3 has a latent space of its own, with no published map: one is fitted at load.
    ModelFamily("sd3", ("StableDiffusion3",), f"{ADAPTERS}:DiffusersModel", latent_map=None, takes_loras=True,
                siblings="diffusers"),
    ModelFamily("sdxl", ("StableDiffusionXL",), f"{ADAPTERS}:DiffusersModel", latent_map="sdxl", takes_loras=True,
                siblings="diffusers"),
    # SD 1.x and 2.x share one VAE latent space.
    ModelFamily("sd1", ("StableDiffusion",), f"{ADAPTERS}:DiffusersModel", latent_map="sd1", takes_loras=True,
                siblings="diffusers"),
)

# Any other diffusers text-to-image pipeline: UNet or transformer + VAE, previews from a fitted map.
GENERIC = ModelFamily("diffusers", (), f"{ADAPTERS}:DiffusersModel", latent_map=None, takes_loras=True,
                      siblings="diffusers")


def family_of(pipeline_class: str | None) -> ModelFamily:
    """The family of a pipeline class name (None, unreadable: the generic one)."""
    if pipeline_class:
        for family in FAMILIES:
            if family.recognises(pipeline_class):
                return family
    return GENERIC
