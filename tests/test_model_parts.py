"""Fusion encoder, pyramids and heads: hand-worked numbers, masks, and padding that must not leak."""

import math

import pytest
import torch
from torch import nn

from unloc.model.fusion import FusionEncoder
from unloc.model.heads import ConvBranch, LocalizationHead
from unloc.model.layers import ConvNorm, DropPath, conv_pads, sinusoid_positions
from unloc.model.pyramid import FeaturePyramid, NoPyramid, SimplePyramid

D = 16


def _fusion(layers=2, **kwargs):
    return FusionEncoder(width=D, layers=layers, heads=2, mlp_dim=32, **kwargs).eval()


def test_sinusoid_positions_hand_worked():
    table = sinusoid_positions(3, 4)
    expected_row1 = [math.sin(1.0), math.cos(1.0), math.sin(1e-2), math.cos(1e-2)]  # 1e4 ** (2/4) = 100
    assert torch.allclose(table[1], torch.tensor(expected_row1))
    assert torch.equal(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))


def test_drop_path_drops_whole_examples_and_rescales():
    drop = DropPath(0.5).train()
    out = drop(torch.ones(2000, 3, 4))
    per_example = out.flatten(1)
    assert set(per_example.unique().tolist()) <= {0.0, 2.0}
    assert torch.all(per_example.min(1).values == per_example.max(1).values)
    assert abs(out.mean().item() - 1.0) < 0.1
    assert torch.equal(drop.eval()(torch.ones(3, 2)), torch.ones(3, 2))


def test_stochastic_depth_grows_linearly():
    rates = [block.drop_path.rate for block in _fusion(layers=5, drop_path=0.2).blocks]
    assert rates == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])


def test_fusion_masked_frames_and_text_tokens_do_not_change_valid_outputs():
    fusion = _fusion()
    frames, text = torch.randn(2, 6, D), torch.randn(2, 3, D)
    frame_mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6], dtype=torch.bool)
    text_mask = torch.tensor([[1, 0, 0], [1, 1, 1]], dtype=torch.bool)
    out = fusion(frames, frame_mask, text, text_mask)
    frames2, text2 = frames.clone(), text.clone()
    frames2[0, 4:] = 100.0
    text2[0, 1:] = -50.0
    out2 = fusion(frames2, frame_mask, text2, text_mask)
    assert torch.allclose(out[:, :4], out2[:, :4], atol=1e-5)
    assert torch.allclose(out[1], out2[1], atol=1e-5)
    text3 = text.clone()
    text3[0, 0] += torch.randn(D)  # a valid text token does reach the frames
    assert not torch.allclose(out[0, :4], fusion(frames, frame_mask, text3, text_mask)[0, :4], atol=1e-4)


def test_depthwise_level_conv_output_i_is_centred_on_input_i_times_stride():
    conv = ConvNorm(D, stride=2)
    with torch.no_grad():
        conv.conv.conv.weight.zero_()
        conv.conv.conv.weight[:, 0, 1] = 1.0
    x = torch.randn(1, 7, D)
    out = conv(x, torch.ones(1, 7, dtype=torch.bool))
    assert out.shape == (1, 4, D)
    assert torch.allclose(out, conv.norm(x[:, ::2]), atol=1e-6)


def test_conv_pads_hand_worked():
    assert conv_pads(8, 2, "centred") == conv_pads(7, 2, "centred") == conv_pads(8, 1, "same") == (1, 1)
    assert conv_pads(8, 2, "same") == (0, 1)  # (4 - 1) * 2 + 3 - 8 = 1: the smaller half (0) goes before
    assert conv_pads(7, 2, "same") == (1, 1)  # (4 - 1) * 2 + 3 - 7 = 2
    assert conv_pads(128, 2, "same") == (0, 1) and conv_pads(1, 2, "same") == (1, 1)
    with pytest.raises(ValueError, match="padding='valid'"):
        conv_pads(8, 2, "valid")


def _centre_tap(conv: ConvNorm) -> ConvNorm:
    """The level conv reduced to its centre tap and no LayerNorm: output i = input at the window centre."""
    with torch.no_grad():
        conv.conv.conv.weight.zero_()
        conv.conv.conv.weight[:, 0, 1] = 1.0
    conv.norm = nn.Identity()
    return conv


@pytest.mark.parametrize("t", [16, 12])
def test_same_padding_chains_the_official_alignment(t):
    """Flax 'SAME' on even lengths pads (0, 1): level l's output i sits at level-0 input i * 2^l + 2^l - 1."""
    pyramid = SimplePyramid(4, num_levels=3, stride=2, padding="same")
    for conv in pyramid.convs:
        _centre_tap(conv)
    fusion = FusionEncoder(width=4, layers=1, heads=1, mlp_dim=8).eval()
    fusion.blocks = nn.ModuleList([_Identity()])
    frames = torch.randn(1, t, 4)
    levels, _ = pyramid(fusion, frames, torch.ones(1, t, dtype=torch.bool))
    x0 = frames + sinusoid_positions(t, 4)
    for level, got in enumerate(levels):
        step = 2**level
        assert torch.allclose(got, x0[:, step - 1::step], atol=1e-6)
    centred = SimplePyramid(4, num_levels=3, stride=2)
    for conv in centred.convs:
        _centre_tap(conv)
    for level, got in enumerate(centred(fusion, frames, torch.ones(1, t, dtype=torch.bool))[0]):
        assert torch.allclose(got, x0[:, ::2**level], atol=1e-6)


@pytest.mark.parametrize("t", [8, 9, 13])
def test_pyramid_level_lengths_strides_and_masks(t):
    fusion = _fusion(layers=3)
    frames = torch.randn(2, t, D)
    mask = torch.ones(2, t, dtype=torch.bool)
    mask[1, t - 3:] = False
    for pyramid in (SimplePyramid(D, num_levels=3, stride=2),
                    FeaturePyramid(D, num_levels=3, stride=2, fpn_layers=(0, 1, 2))):
        levels, masks = pyramid(fusion, frames, mask, torch.randn(2, 1, D), torch.ones(2, 1, dtype=torch.bool))
        assert pyramid.strides == (1, 2, 4)
        assert [lv.shape[1] for lv in levels] == [t, math.ceil(t / 2), math.ceil(t / 4)]
        assert [m.shape for m in masks] == [lv.shape[:2] for lv in levels]
        assert masks[2][1].tolist() == [4 * i < t - 3 for i in range(math.ceil(t / 4))]
    levels, masks = NoPyramid(D)(fusion, frames, mask)
    assert len(levels) == 1 and levels[0].shape == (2, t, D) and torch.equal(masks[0], mask)


class _Identity(nn.Module):
    def forward(self, x, mask):
        return x


def test_fpn_pools_masked_frames_and_adds_top_down_like_a_reference():
    pyramid = FeaturePyramid(4, num_levels=3, stride=2, fpn_layers=(0, 1, 2))
    pyramid.convs = nn.ModuleList(_Identity() for _ in range(3))  # look at the features before the level convs
    fusion = FusionEncoder(width=4, layers=3, heads=1, mlp_dim=8).eval()
    fusion.blocks = nn.ModuleList(_Identity() for _ in range(3))
    frames = torch.randn(1, 7, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    frames[0, 5:] = 1e3  # padded frames must never win a max-pool
    levels, _ = pyramid(fusion, frames, mask)

    x0 = (frames + sinusoid_positions(7, 4))[0]
    def pool(x, valid):  # reference max-pool over valid frames, window 2
        return torch.stack([x[i:i + 2][valid[i:i + 2]].max(0).values if valid[i:i + 2].any() else torch.zeros(4)
                            for i in range(0, len(x), 2)])
    valid0 = mask[0]
    x1 = pool(x0, valid0)
    x2 = pool(x1, valid0[::2])
    x1_td = x1 + x2.repeat_interleave(2, 0)[: len(x1)]
    x0_td = x0 + x1_td.repeat_interleave(2, 0)[: len(x0)]
    for got, want in zip(levels, [x0_td, x1_td, x2]):
        assert torch.allclose(got[0], want, atol=1e-5)


@pytest.mark.parametrize("kind", ["vitdet", "fpn"])
def test_pyramid_padded_video_equals_truncated_video_without_text(kind):
    fusion = _fusion(layers=3)
    pyramid = (SimplePyramid(D, num_levels=3, stride=2) if kind == "vitdet"
               else FeaturePyramid(D, num_levels=3, stride=2, fpn_layers=(0, 1, 2)))
    frames = torch.randn(1, 10, D)
    padded = torch.cat([frames, 7 * torch.randn(1, 2, D)], dim=1)
    mask = torch.arange(12).unsqueeze(0) < 10
    short, _ = pyramid(fusion, frames, torch.ones(1, 10, dtype=torch.bool))
    long, long_masks = pyramid(fusion, padded, mask)
    for s, lg, m in zip(short, long, long_masks):
        n = int(m.sum())
        assert n == s.shape[1]
        assert torch.allclose(s, lg[:, :n], atol=1e-5)


@pytest.mark.parametrize("num_layers", [0, 1, 2, 3, 4])
def test_conv_branch_depth_and_prior_bias(num_layers):
    branch = ConvBranch(D, 3, num_layers=num_layers, bias_init=-5.0)
    assert len(branch.convs) == num_layers
    out = branch(torch.zeros(2, 5, D), torch.ones(2, 5, dtype=torch.bool))
    assert torch.equal(out, torch.full((2, 5, 3), -5.0))  # LN(0) = 0, conv(0) = 0: only the prior bias remains


def test_shared_head_prior_outputs_and_per_level_scale_and_shift():
    head = LocalizationHead(dim=D, num_levels=2, num_conv_layers=2, weight_sharing=True, relevancy_dim=1,
                            cls_bias_init=-5.0, reg_bias_init=2.0)
    with torch.no_grad():
        head.scale[1] = 3.0
        head.shift[1] = -1.0
    levels = [torch.zeros(1, 4, D), torch.zeros(1, 2, D)]
    masks = [torch.ones(1, 4, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)]
    logits, offsets = head(levels, masks)
    assert [z.shape for z in logits] == [(1, 1, 4), (1, 1, 2)]
    assert torch.equal(logits[0], torch.full((1, 1, 4), -5.0))
    assert torch.equal(offsets[0], torch.full((1, 1, 4, 2), 2.0))
    assert torch.equal(offsets[1], torch.full((1, 1, 2, 2), 5.0))  # relu(3 * 2 - 1)
    head.shift.data[0] = -10.0
    assert torch.equal(head(levels, masks)[1][0], torch.zeros(1, 1, 4, 2))  # ReLU'd: never negative


def test_unshared_head_has_one_branch_per_level_and_no_scale():
    head = LocalizationHead(dim=D, num_levels=3, num_conv_layers=1, weight_sharing=False, relevancy_dim=1,
                            cls_bias_init=0.0, reg_bias_init=2.0)
    assert len(head.relevancy) == len(head.regression) == 3 and head.scale is None
    shared = LocalizationHead(dim=D, num_levels=3, num_conv_layers=1, weight_sharing=True, relevancy_dim=1,
                              cls_bias_init=0.0, reg_bias_init=2.0)
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(head) == 3 * (count(shared) - 6)  # three branch copies, no 3 scales + 3 shifts
