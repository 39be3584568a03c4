"""Relevancy and regression heads on the pyramid levels (paper §3.3; reference §1.6).

Each branch is (LayerNorm -> Conv1d k3 -> ReLU) x n followed by a linear layer with xavier-normal weights and a
constant prior bias (relevancy -5 for TAL, 0 for MR; regression 2). With weight sharing one relevancy and one
regression branch serve every level, and the raw regression output gets a learned per-level scale (init 1) and
shift (init 0); without it each level has its own branches. Displacements are ReLU'd: they are non-negative and in
units of the level's stride. The relevancy branch ends in 1 channel for fused (video, text) pairs, in `num_classes`
channels for the text-free variant, or in an embedding compared with the text by a scaled cosine (late fusion).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from unloc.model.layers import TemporalConv, layer_norm


class ConvBranch(nn.Module):
    """(LayerNorm -> Conv1d k3 -> ReLU) x num_layers, then Linear(dim, out_dim) with a constant bias."""

    def __init__(self, dim: int, out_dim: int, *, num_layers: int, bias_init: float) -> None:
        super().__init__()
        self.norms = nn.ModuleList(layer_norm(dim) for _ in range(num_layers))
        self.convs = nn.ModuleList(TemporalConv(dim) for _ in range(num_layers))
        self.out = nn.Linear(dim, out_dim)
        nn.init.xavier_normal_(self.out.weight)
        nn.init.constant_(self.out.bias, bias_init)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Args: x (b, t, d), mask (b, t). Returns: (b, t, out_dim)."""
        for norm, conv in zip(self.norms, self.convs):
            x = F.relu(conv(norm(x), mask))
        return self.out(x)


class TextSimilarity(nn.Module):
    """Late-fusion relevancy: exp(scale) * cosine(position feature, text embedding) + bias."""

    def __init__(self, bias_init: float) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.bias = nn.Parameter(torch.tensor(float(bias_init)))

    def forward(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Args: features (b, t, d), text (q, d). Returns: logits (b, q, t)."""
        cosine = torch.einsum("btd,qd->bqt", F.normalize(features, dim=-1), F.normalize(text, dim=-1))
        return self.log_scale.exp() * cosine + self.bias


class LocalizationHead(nn.Module):
    """Relevancy (and regression) branches applied to every pyramid level.

    Args:
        dim: feature width.
        num_levels: pyramid levels.
        num_conv_layers: conv blocks per branch (0 = the linear layer alone).
        weight_sharing: share branches across levels (with per-level regression scale and shift).
        relevancy_dim: channels of the relevancy branch: 1 (fused pairs), num_classes (no text) or dim (late fusion).
        cls_bias_init: prior bias of the relevancy logits.
        reg_bias_init: bias of the raw displacements.
        regression: False for segmentation (relevancy only).
        late_fusion: score relevancy features against text embeddings (`TextSimilarity`).
    """

    def __init__(self, *, dim: int, num_levels: int, num_conv_layers: int, weight_sharing: bool,
                 relevancy_dim: int, cls_bias_init: float, reg_bias_init: float, regression: bool = True,
                 late_fusion: bool = False) -> None:
        super().__init__()
        copies = 1 if weight_sharing else num_levels
        self.weight_sharing = weight_sharing
        rel_bias = 0.0 if late_fusion else cls_bias_init
        self.relevancy = nn.ModuleList(
            ConvBranch(dim, relevancy_dim, num_layers=num_conv_layers, bias_init=rel_bias) for _ in range(copies)
        )
        self.similarity = TextSimilarity(cls_bias_init) if late_fusion else None
        self.regression = nn.ModuleList(
            ConvBranch(dim, 2, num_layers=num_conv_layers, bias_init=reg_bias_init)
            for _ in range(copies if regression else 0)
        )
        self.scale = nn.Parameter(torch.ones(num_levels)) if weight_sharing and regression else None
        self.shift = nn.Parameter(torch.zeros(num_levels)) if weight_sharing and regression else None

    def forward(self, levels: list[torch.Tensor], masks: list[torch.Tensor], text: torch.Tensor | None = None,
                ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Score every level.

        Args:
            levels: per level (b, t_l, d) features; masks: per level (b, t_l).
            text: (q, d) text embeddings, only for late fusion.

        Returns:
            logits per level (b, q', t_l) with q' = relevancy_dim (or q for late fusion), and displacements per level
            (b, 1, t_l, 2) (shared by every query), or None without a regression branch.
        """
        logits, offsets = [], []
        for level, (x, mask) in enumerate(zip(levels, masks)):
            branch = 0 if self.weight_sharing else level
            relevancy = self.relevancy[branch](x, mask)  # (b, t, relevancy_dim)
            if self.similarity is not None:
                logits.append(self.similarity(relevancy, text))
            else:
                logits.append(rearrange(relevancy, "b t q -> b q t"))
            if self.regression:
                raw = self.regression[branch](x, mask)  # (b, t, 2)
                if self.scale is not None:
                    raw = raw * self.scale[level] + self.shift[level]
                offsets.append(rearrange(F.relu(raw), "b t two -> b 1 t two"))
        return logits, (offsets if self.regression else None)
