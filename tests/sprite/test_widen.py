"""Growing a trained sprite UNet into a wider one (training/widen.py): the wide model starts as the narrow one."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel

from training import widen
from training.widen import channel_map, grow


def _doubled(x: torch.Tensor) -> torch.Tensor:
    """Channel c of `x` as the adjacent pair 2c, 2c + 1: how a widened activation holds the narrow one."""
    return x.repeat_interleave(2, dim=1)


def test_channel_map_pairs_doubled_channels_and_keeps_a_narrow_tail() -> None:
    assert channel_map(3, 6) == (pytest.approx([0, 0, 1, 1, 2, 2]), 3)
    source, doubled = channel_map(6, 10)  # a concatenation: 4 channels doubled, a 2-channel skip kept
    assert source.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5] and doubled == 4
    assert channel_map(4, 4)[0].tolist() == [0, 1, 2, 3]
    for new in (3, 9):
        with pytest.raises(ValueError, match="cannot widen"):
            channel_map(4, new)


def test_a_widened_resnet_block_computes_the_narrow_one_twice() -> None:
    torch.manual_seed(0)
    narrow = ResnetBlock2D(in_channels=16, out_channels=32, temb_channels=24, groups=8).eval()
    wide = ResnetBlock2D(in_channels=32, out_channels=64, temb_channels=24, groups=8).eval()
    grow(narrow, wide)
    x, temb = torch.randn(2, 16, 8, 8), torch.randn(2, 24)
    with torch.no_grad():
        torch.testing.assert_close(wide(_doubled(x), temb), _doubled(narrow(x, temb)), atol=1e-5, rtol=1e-4)
    # the two copies of a channel are read with different weights (so they learn apart) that sum to the old one
    old, new = narrow.conv2.weight, wide.conv2.weight
    assert not torch.allclose(new[:, 0], new[:, 1])
    torch.testing.assert_close(new[::2, 0] + new[::2, 1], old[:, 0])


def test_a_widened_attention_block_computes_the_narrow_one_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widen, "QK_NOISE", 0.0)  # exactness: the query/key tie-breaking noise is checked below
    torch.manual_seed(0)
    narrow = Transformer2DModel(num_attention_heads=4, attention_head_dim=8, in_channels=32, norm_num_groups=8,
                                cross_attention_dim=12).eval()
    wide = Transformer2DModel(num_attention_heads=4, attention_head_dim=16, in_channels=64, norm_num_groups=8,
                              cross_attention_dim=12).eval()
    grow(narrow, wide)
    x, text = torch.randn(2, 32, 4, 4), torch.randn(2, 5, 12)
    with torch.no_grad():
        torch.testing.assert_close(wide(_doubled(x), encoder_hidden_states=text).sample,
                                   _doubled(narrow(x, encoder_hidden_states=text).sample), atol=1e-5, rtol=1e-4)


def test_query_and_key_copies_are_nudged_apart_so_they_do_not_stay_tied() -> None:
    torch.manual_seed(0)
    old = torch.randn(8, 8)
    # a cross-attention key reads the text, whose width does not change: the rows differ by the nudge alone
    wide = widen.widen_tensor("attn2.to_k.weight", old, torch.Size([16, 8]), torch.Generator().manual_seed(0))
    assert not torch.equal(wide[0], wide[1])
    torch.testing.assert_close(wide[0], old[0], atol=0.01, rtol=0)
    torch.testing.assert_close(wide[1], old[0], atol=0.01, rtol=0)
    query = widen.widen_tensor("attn2.to_q.weight", old, torch.Size([16, 8]), torch.Generator().manual_seed(0))
    torch.testing.assert_close(query[0], old[0] / 2**0.5)  # doubled head dimension: dot products scaled back


def test_the_wide_preset_grown_from_cpu_weights_starts_near_them() -> None:
    from pixelforge.backends.sprite.presets import build_unet

    torch.manual_seed(0)
    narrow, wide, fresh = build_unet("cpu").eval(), build_unet("wide").eval(), build_unet("wide").eval()
    grow(narrow, wide)
    x, t = torch.randn(2, 4, 32, 32), torch.full((2,), 500.0)
    text, pooled = torch.randn(2, 16, 128), torch.randn(2, 128)
    mids: list[torch.Tensor] = []
    for unet in (narrow, wide):
        unet.mid_block.register_forward_hook(lambda _m, _i, out: mids.append(out))
    with torch.no_grad():
        outs = [u(x, t, encoder_hidden_states=text, class_labels=pooled).sample for u in (narrow, wide, fresh)]
    # exact down to the middle of the UNet; the up path moves a little where a GroupNorm spans a widened
    # hidden state and a narrow skip (training/widen.py); a fresh wide UNet has nothing in common with it
    torch.testing.assert_close(mids[1], _doubled(mids[0]), atol=1e-4, rtol=1e-3)
    def distance(a: torch.Tensor) -> float:
        return ((a - outs[0]).norm() / outs[0].norm()).item()
    assert distance(outs[1]) < 0.25 < 0.9 < distance(outs[2])


def test_models_that_differ_in_more_than_width_are_refused() -> None:
    from pixelforge.backends.sprite.presets import build_pipeline
    from training.train_sprite import warm_start

    vocab = {"<pad>": 0, "cat": 1}
    with pytest.raises(SystemExit, match="cannot start this preset: the two models differ in more than width"):
        warm_start(build_pipeline(vocab, "cpu"), build_pipeline(vocab, "tiny"))  # another depth
    with pytest.raises(SystemExit, match="cannot widen a dimension of 128 channels to 64"):
        warm_start(build_pipeline(vocab, "cpu"), build_pipeline(vocab, "wide"))  # narrowing
