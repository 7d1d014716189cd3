"""The sprite model's own text encoder: word embeddings and a small pre-norm transformer.

No external encoder weights: it is trained jointly with the UNet on the emoji captions, whose vocabulary
is a few thousand words. It returns per-token states for the UNet's cross-attention and a masked mean
of them, which the UNet adds to its timestep embedding (`class_embed_type="projection"`) so that even
the blocks without attention see the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


@dataclass
class SpriteTextEncoderOutput:
    last_hidden_state: torch.Tensor  # (batch, tokens, dim)
    pooled: torch.Tensor  # (batch, dim)


# ModelMixin and ConfigMixin declare config_name differently (diffusers' own models inherit both the same way), and
# register_to_config, diffusers' way of saving the arguments as the config, is not annotated.
class SpriteTextEncoder(ModelMixin, ConfigMixin):  # type: ignore[misc]
    @register_to_config  # type: ignore[untyped-decorator]
    def __init__(
        self, vocab_size: int, dim: int = 128, num_layers: int = 2, num_heads: int = 4, max_length: int = 16
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # diffusers leaves ModelMixin.__init__ unannotated
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.zeros(max_length, dim))
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        # enable_nested_tensor=False: the nested-tensor fast path only applies in eval mode and returns
        # zeros at padded positions; one code path for training and inference keeps outputs identical.
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.02)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SpriteTextEncoderOutput:
        x = self.token_embedding(input_ids) + self.position_embedding[: input_ids.shape[1]]
        x = self.final_norm(self.layers(x, src_key_padding_mask=attention_mask == 0))
        weights = attention_mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return SpriteTextEncoderOutput(last_hidden_state=x, pooled=pooled)
