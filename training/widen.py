"""Grow a trained sprite UNet into a wider one that starts out drawing what the narrow one drew (Net2Net).

Every widened channel dimension doubles, and old channel c becomes the adjacent pair 2c, 2c + 1 of the wide
model. Adjacent pairs are what keeps the function: a GroupNorm or LayerNorm group of the wide model then holds
exactly the channels of the old group, each twice, so its mean and variance are the old ones; an attention
head holds the old head's dimensions twice; the two halves of a GEGLU projection stay halves; and a
concatenated skip input stays a concatenation of the same parts. A layer reading a widened input splits each
old weight between the two copies (½ + ε and ½ - ε, so the copies receive different gradients and learn
different things), which keeps every sum the same. Queries are scaled by 1/√2 because a doubled head dimension
doubles the dot products that the attention scale only divides by √2.

One place cannot be kept exactly: an up block concatenates a widened hidden state with a skip from a level that
was not widened, and the GroupNorm over that concatenation then mixes different proportions of the two parts
than before. That moves the output by about a tenth (tests/sprite/test_widen.py bounds it; 9-17 % measured on the
trained cpu weights), which the first minutes of training take back.
"""

from __future__ import annotations

import torch

SPLIT_NOISE = 0.05  # standard deviation of ε; small enough that the wide model starts as the narrow one
QK_NOISE = 1e-3  # relative noise on one copy of each query/key row: otherwise a pair stays tied forever


def channel_map(old: int, new: int) -> tuple[torch.Tensor, int]:
    """For each channel of the wide dimension, the old channel it copies; and how many old channels were
    doubled (they come first, as pairs).

    A dimension that grew from `old` to `new` with `old < new < 2 old` is a concatenation whose first part
    doubled and whose second part did not (an up block's hidden state and a skip from a narrower level)."""
    if not old <= new <= 2 * old:
        raise ValueError(f"cannot widen a dimension of {old} channels to {new}")
    doubled = new - old
    return torch.cat([torch.arange(2 * doubled) // 2, torch.arange(doubled, old)]), doubled


def widen_tensor(name: str, old: torch.Tensor, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """The wide model's tensor `name` of `shape`, grown from the narrow model's `old`."""
    if old.shape == shape:
        return old.clone()
    out_source, out_doubled = channel_map(old.shape[0], shape[0])
    wide = old[out_source]
    if old.ndim >= 2 and old.shape[1] != shape[1]:  # a Linear or Conv weight reading a widened input
        in_source, in_doubled = channel_map(old.shape[1], shape[1])
        wide = wide[:, in_source]
        eps = SPLIT_NOISE * torch.randn((shape[0], in_doubled, *shape[2:]), generator=generator)
        share = torch.stack([0.5 + eps, 0.5 - eps], dim=2).flatten(1, 2)
        wide[:, : 2 * in_doubled] *= share
    if out_doubled and name.endswith(("to_q.weight", "to_k.weight")):
        if name.endswith("to_q.weight"):
            wide = wide / 2**0.5
        second = wide[1 : 2 * out_doubled : 2]
        second += QK_NOISE * second.abs().mean() * torch.randn(second.shape, generator=generator)
    return wide


def widen_state(old: dict[str, torch.Tensor], shapes: dict[str, torch.Size], seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict of the wide model (`shapes` by name) grown from the narrow model's state dict `old`."""
    unmatched = sorted(set(shapes) ^ set(old))
    if unmatched:
        raise ValueError(f"the two models differ in more than width: {', '.join(unmatched[:5])}")
    generator = torch.Generator().manual_seed(seed)
    return {name: widen_tensor(name, old[name].float(), shape, generator) for name, shape in shapes.items()}


def grow(source: torch.nn.Module, target: torch.nn.Module, seed: int = 0) -> None:
    """Load into `target` the weights of `source`, a model of the same layers and equal or smaller widths."""
    target.load_state_dict(widen_state(source.state_dict(), {k: v.shape for k, v in target.state_dict().items()}, seed))
