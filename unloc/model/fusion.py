"""Video-text fusion transformer: a pre-LN encoder over [frame tokens; text token(s)] (paper §3.2; reference §1.4).

Fixed sin/cos positions are added once to every token; the text tokens follow the t frames and get positions t,
t+1, ... Each block is LayerNorm -> multi-head self-attention -> dropout -> drop-path -> residual, then LayerNorm ->
MLP (Dense -> tanh-GELU -> Dense, the Flax default) -> drop-path -> residual. Attention ignores invalid keys (padded
frames, padding text tokens). Stochastic depth grows linearly from 0 at the first block to `drop_path` at the last.
There is no final LayerNorm: every pyramid level brings its own. The encoder exposes `embed` and `run_blocks` so a
pyramid can interleave pooling with the blocks (the FPN variant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from unloc.model.layers import DropPath, layer_norm, sinusoid_positions


class SelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask (True = the key may be attended to)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        for weight in (*self.qkv.weight.chunk(3, dim=0), self.out.weight):  # Flax inits q, k, v separately
            nn.init.xavier_uniform_(weight)
        nn.init.zeros_(self.qkv.bias)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Args: x (b, L, d), mask (b, L). Returns: (b, L, d)."""
        mask = mask | ~mask.any(dim=1, keepdim=True)  # an all-invalid row attends everywhere instead of NaN
        q, k, v = rearrange(self.qkv(x), "b L (three h d) -> three b h L d", three=3, h=self.heads)
        attn_mask = rearrange(mask, "b L -> b 1 1 L")
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        return self.out(rearrange(out, "b h L d -> b L (h d)"))


class FusionBlock(nn.Module):
    """One pre-LN transformer block (official `TransformerEncoder1DBlock`)."""

    def __init__(self, *, width: int, heads: int, mlp_dim: int, dropout: float, attention_dropout: float,
                 drop_path: float) -> None:
        super().__init__()
        self.norm1 = layer_norm(width)
        self.attn = SelfAttention(width, heads, attention_dropout)
        self.norm2 = layer_norm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_dim), nn.GELU(approximate="tanh"), nn.Dropout(dropout),
            nn.Linear(mlp_dim, width), nn.Dropout(dropout),
        )
        for linear in (self.mlp[0], self.mlp[3]):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.normal_(linear.bias, std=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Args: x (b, L, d), mask (b, L). Returns: (b, L, d)."""
        x = x + self.drop_path(self.dropout(self.attn(self.norm1(x), mask)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class FusionEncoder(nn.Module):
    """The fusion transformer over frame tokens followed by optional text tokens."""

    def __init__(self, *, width: int, layers: int, heads: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.width = width
        rates = [drop_path * i / max(layers - 1, 1) for i in range(layers)]
        self.blocks = nn.ModuleList(
            FusionBlock(width=width, heads=heads, mlp_dim=mlp_dim, dropout=dropout,
                        attention_dropout=attention_dropout, drop_path=rate)
            for rate in rates
        )
        self.dropout = nn.Dropout(dropout)

    def embed(self, frames: torch.Tensor, frame_mask: torch.Tensor, text: torch.Tensor | None = None,
              text_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenate [frames; text], add positions.

        Args:
            frames: (b, t, d) projected frame tokens; frame_mask: (b, t).
            text: (b, n, d) projected text tokens paired with each video, or None; text_mask: (b, n).

        Returns:
            tokens (b, t + n, d) and their mask (b, t + n).
        """
        if text is not None:
            frames = torch.cat([frames, text], dim=1)
            frame_mask = torch.cat([frame_mask, text_mask], dim=1)
        positions = sinusoid_positions(frames.shape[1], self.width, frames.device).to(frames.dtype)
        return self.dropout(frames + positions), frame_mask

    def run_blocks(self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run blocks[start:stop] on tokens x (b, L, d) with mask (b, L)."""
        for block in self.blocks[start:stop]:
            x = block(x, mask)
        return x

    def forward(self, frames: torch.Tensor, frame_mask: torch.Tensor, text: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """All blocks; returns the fused frame tokens (b, t, d) (text tokens are dropped, reference §1.1)."""
        x, mask = self.embed(frames, frame_mask, text, text_mask)
        return self.run_blocks(x, mask)[:, : frames.shape[1]]
