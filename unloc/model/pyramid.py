"""Temporal feature pyramids on the fused frame tokens (paper §3.2; reference §1.5).

A pyramid drives the fusion encoder and returns per-level features and masks; level l has stride stride**l and
ceil(t / stride**l) positions (the ops contract). `NoPyramid` is one level with a final LayerNorm (the official
`transformer` encoder, used for segmentation). `SimplePyramid` (ViTDet-like, official `simple_pyramid`) runs all
fusion blocks, then level 0 = depthwise conv k3 -> LayerNorm and level l = strided depthwise conv k3 of level l-1 ->
LayerNorm; its strided convs pad 'centred' (ours) or 'same' (official; see `unloc.model.layers`). `FeaturePyramid`
(official `fpn`) stores the frame tokens after chosen fusion blocks and max-pools them (text tokens kept) before the
next blocks run, then adds nearest-upsampled coarser levels top-down and ends each level with a depthwise conv k3 ->
LayerNorm. Padded frames never reach a valid position: they are excluded from attention and pooling and zeroed before
every conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from unloc.model.fusion import FusionEncoder
from unloc.model.layers import ConvNorm, downsample_mask, layer_norm

FusionInputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]


class _Pyramid(nn.Module):
    """Stride bookkeeping shared by all pyramids."""

    def __init__(self, num_levels: int, stride: int) -> None:
        super().__init__()
        self.num_levels = num_levels
        self.stride = stride

    @property
    def strides(self) -> tuple[int, ...]:
        """Stride of each level in level-0 sampled-frame units."""
        return tuple(self.stride**level for level in range(self.num_levels))

    def forward(self, fusion: FusionEncoder, frames: torch.Tensor, frame_mask: torch.Tensor,
                text: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Run `fusion` on [frames; text] and build the levels.

        Args:
            fusion: the fusion encoder this pyramid drives.
            frames: (b, t, d) projected frame tokens; frame_mask: (b, t).
            text: (b, n, d) text tokens paired with each video, or None; text_mask: (b, n).

        Returns:
            levels [(b, t_l, d)] and masks [(b, t_l)], t_l = ceil(t / stride**l).
        """
        masks = self.level_masks(frame_mask)
        return self.levels(fusion, (frames, frame_mask, text, text_mask), masks), masks

    def levels(self, fusion: FusionEncoder, inputs: FusionInputs, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-level features [(b, t_l, d)] from the fusion inputs (frames, frame_mask, text, text_mask)."""
        raise NotImplementedError

    def level_masks(self, frame_mask: torch.Tensor) -> list[torch.Tensor]:
        """Frame mask (b, t) -> per-level masks (b, ceil(t / stride**l))."""
        masks = [frame_mask]
        for _ in range(1, self.num_levels):
            masks.append(downsample_mask(masks[-1], self.stride))
        return masks


class NoPyramid(_Pyramid):
    """A single level: the fused frame tokens after a final LayerNorm."""

    def __init__(self, dim: int) -> None:
        super().__init__(num_levels=1, stride=2)
        self.norm = layer_norm(dim)

    def levels(self, fusion: FusionEncoder, inputs: FusionInputs, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.norm(fusion(*inputs))]


class SimplePyramid(_Pyramid):
    """ViTDet-style pyramid chained from the last fusion block with strided depthwise convs."""

    def __init__(self, dim: int, *, num_levels: int, stride: int, padding: str = "centred") -> None:
        super().__init__(num_levels, stride)
        self.convs = nn.ModuleList(ConvNorm(dim, stride=1 if level == 0 else stride, padding=padding)
                                   for level in range(num_levels))

    def levels(self, fusion: FusionEncoder, inputs: FusionInputs, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        x = fusion(*inputs)  # (b, t, d)
        levels = []
        for level, conv in enumerate(self.convs):
            x = conv(x, masks[max(level - 1, 0)])  # level l reads level l-1 (level 0 reads the fused tokens)
            levels.append(x)
        return levels


class FeaturePyramid(_Pyramid):
    """FPN over intermediate fusion blocks with max-pooling between levels and a top-down path."""

    def __init__(self, dim: int, *, num_levels: int, stride: int, fpn_layers: tuple[int, ...]) -> None:
        super().__init__(num_levels, stride)
        if len(fpn_layers) != num_levels:
            raise ValueError(f"fpn_layers={fpn_layers} needs one fusion layer per level ({num_levels})")
        self.fpn_layers = tuple(fpn_layers)
        self.convs = nn.ModuleList(ConvNorm(dim) for _ in range(num_levels))

    def levels(self, fusion: FusionEncoder, inputs: FusionInputs, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.fpn_layers[-1] != len(fusion.blocks) - 1:
            raise ValueError(f"fpn_layers={self.fpn_layers} must end at the last of {len(fusion.blocks)} blocks")
        x, mask = fusion.embed(*inputs)
        t, start, feats = inputs[0].shape[1], 0, []
        for level, layer in enumerate(self.fpn_layers):
            if level > 0:
                pooled = self._max_pool(x[:, :t], masks[level - 1])  # (b, ceil(t / stride), d)
                x = torch.cat([pooled, x[:, t:]], dim=1)
                mask = torch.cat([masks[level], mask[:, t:]], dim=1)
                t = pooled.shape[1]
            x = fusion.run_blocks(x, mask, start, layer + 1)
            start = layer + 1
            feats.append(x[:, :t])
        for level in reversed(range(self.num_levels - 1)):  # top-down: the sums accumulate downwards
            finer = feats[level]
            upsampled = feats[level + 1].repeat_interleave(self.stride, dim=1)[:, : finer.shape[1]]
            feats[level] = finer + upsampled
        return [conv(f, m) for conv, f, m in zip(self.convs, feats, masks)]

    def _max_pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Max over windows of `stride` valid frames: x (b, t, d), mask (b, t) -> (b, ceil(t / stride), d)."""
        x = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))
        pooled = F.max_pool1d(rearrange(x, "b t d -> b d t"), self.stride, self.stride, ceil_mode=True)
        pooled = rearrange(pooled, "b d t -> b t d")
        return pooled.masked_fill(torch.isneginf(pooled), 0.0)  # windows with no valid frame
