"""Small building blocks shared by the fusion encoder, the pyramid and the heads (paper §3.2-3.3).

Numerics follow the official Flax code (reference §1.4-1.6): LayerNorm eps 1e-6, fixed 1D sin/cos positions with
timescale 1e4, stochastic depth per example and lecun-normal conv weights. The padding of strided temporal convs is a
choice (`CONV_PADDINGS`): 'centred' pads one position on both sides, so output i is centred on input i * stride and lines
up with the anchor i * stride of the ops contract (this port's default); 'same' is Flax/TF 'SAME' as the official code
uses it: the total padding max((n_out - 1) * stride + 3 - t, 0) is split with the smaller half before, i.e. (0, 1) for
stride 2 on an even length, so output i is centred on input i * 2 + 1 while the official anchors stay at i * 2 (chained
over levels: level l's output i is centred at i * 2^l + 2^l - 1 in level-0 units). Stride-1 convs pad (1, 1) in both
modes. Masks are True = valid; invalid positions are zeroed before every temporal conv so that padding frames act
exactly like the zero padding at the end of a shorter video.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

LN_EPS = 1e-6  # flax LayerNorm default (CLIP's towers use 1e-5)
CONV_PADDINGS = ("centred", "same")


def layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=LN_EPS)


def zero_invalid(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (b, t, d) with positions where mask (b, t) is False set to 0."""
    return x * mask.unsqueeze(-1).to(x.dtype)


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Mask (b, t) of a level -> mask (b, ceil(t / stride)) of the next: position i is valid if input i*stride is."""
    return mask[:, ::stride]


def sinusoid_positions(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed 1D positions (length, dim): sin on even channels, cos on odd ones, timescale 1e4."""
    position = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(1e4) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)[:, : dim // 2]
    return table


def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Flax's default kernel init: truncated normal with variance 1 / fan_in (JAX's truncation correction)."""
    fan_in = weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of an example with probability `rate` in training."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep) / keep


def conv_pads(t: int, stride: int, padding: str, kernel: int = 3) -> tuple[int, int]:
    """(before, after) zero padding of a length-t input so that the conv gives ceil(t / stride) outputs."""
    if padding not in CONV_PADDINGS:
        raise ValueError(f"padding={padding!r} is not one of {CONV_PADDINGS}")
    if padding == "centred" or stride == 1:
        return kernel // 2, kernel // 2
    total = max((-(-t // stride) - 1) * stride + kernel - t, 0)
    return total // 2, total - total // 2


class TemporalConv(nn.Module):
    """Conv1d with kernel 3 over time on (b, t, d) features with a validity mask; ceil(t / stride) outputs.

    `padding` 'centred': output i is centred on input i * stride; 'same': Flax/TF 'SAME' (module docstring).
    """

    def __init__(self, dim: int, *, stride: int = 1, depthwise: bool = False, padding: str = "centred") -> None:
        super().__init__()
        conv_pads(1, stride, padding)  # validates `padding`
        self.stride, self.padding = stride, padding
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, stride=stride, padding=0, groups=dim if depthwise else 1)
        lecun_normal_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Args: x (b, t, d), mask (b, t). Returns: (b, ceil(t / stride), d)."""
        x = rearrange(zero_invalid(x, mask), "b t d -> b d t")
        x = F.pad(x, conv_pads(x.shape[-1], self.stride, self.padding))
        return rearrange(self.conv(x), "b d t -> b t d")


class ConvNorm(nn.Module):
    """A pyramid level's output layer: depthwise TemporalConv -> LayerNorm (official simple_pyramid / fpn)."""

    def __init__(self, dim: int, stride: int = 1, padding: str = "centred") -> None:
        super().__init__()
        self.conv = TemporalConv(dim, stride=stride, depthwise=True, padding=padding)
        self.norm = layer_norm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x, mask))
