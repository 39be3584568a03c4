"""CLIP image and text towers of UnLoc, wrapped around open_clip's modules (paper §3.1; reference §1.2-1.3).

The image tower encodes every frame on its own and returns one token per frame: the CLS token after `ln_post`
('cls', UnLoc-B) or the mean of the patch tokens after `ln_post` ('mean', UnLoc-L's GAP; here the CLS token stays in
the ViT's sequence, the official GAP drops it). The official B models also learn a different CLS per frame; this
port keeps CLIP's single CLS so that frame features do not depend on the frame's position and can be cached.
CLIP's ResNets (open_clip `ModifiedResNet`) are accepted too, for the mini-world's stand-in CLIP, whose ViT is too
small to learn shapes from 64 px frames: 'cls' is then the attention-pool output (its query is the mean token, the
ResNet's counterpart of the CLS token; the pool's output projection is part of it, there is no separate one to
remove) and 'mean' the average of the last stage's feature map.
The text tower returns every token after `ln_final`, the pooled EOS token and the padding mask (pad id 0).
CLIP's own output projections are removed: UnLoc projects both towers into the fusion width with fresh layers that
live outside the towers and always train. A frozen tower has no trainable parameters, runs without autograd and
stays in eval mode when the model is put in train mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import open_clip
import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import TextTransformer, VisionTransformer
from torch import nn

from unloc.model.config import FRAME_TOKENS


@dataclass
class TextFeatures:
    """Text tower outputs for q texts.

    Attributes:
        tokens: (q, n, d) features of every token.
        pooled: (q, d) the pooled (EOS) token.
        mask: (q, n) bool, True = real token (not padding).
    """

    tokens: torch.Tensor
    pooled: torch.Tensor
    mask: torch.Tensor


class _FreezableTower(nn.Module):
    """A tower that can be frozen: no gradients, no autograd graph, eval mode kept under `.train()`."""

    def __init__(self, frozen: bool) -> None:
        super().__init__()
        self.frozen = frozen

    def freeze(self, frozen: bool = True) -> None:
        self.frozen = frozen
        for param in self.parameters():
            param.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> _FreezableTower:
        super().train(mode and not self.frozen)
        return self

    def _grad_context(self) -> torch.set_grad_enabled:
        return torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen)


def image_side(visual: nn.Module) -> int:
    """The input side of an open_clip image tower (an int for its ResNets, (h, w) for its ViTs); square only."""
    size = visual.image_size
    height, width = (size, size) if isinstance(size, int) else size
    if height != width:
        raise ValueError(f"only square image towers are supported, got {size}")
    return int(height)


class ImageTower(_FreezableTower):
    """Per-frame CLIP image encoder (ViT or ModifiedResNet): frames (N, 3, h, w) -> one token per frame (N, out_dim).

    Inputs are already resized to `image_size` and normalized with `mean`/`std` (see `normalize`).
    """

    def __init__(self, visual: nn.Module, *, frame_token: str, frozen: bool,
                 mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__(frozen)
        if frame_token not in FRAME_TOKENS:
            raise ValueError(f"frame_token={frame_token!r} must be one of {FRAME_TOKENS}")
        if isinstance(visual, VisionTransformer) and visual.attn_pool is None:
            if frame_token == "cls" and visual.pool_type != "tok":
                raise ValueError(f"frame_token='cls' needs a ViT with a CLS token (pool_type {visual.pool_type})")
            visual.proj = None  # the per-frame token is taken before CLIP's projection (reference §1.2)
            visual.output_tokens = True
            self.out_dim = int(visual.ln_post.normalized_shape[0])
        elif isinstance(visual, ModifiedResNet):
            pool = visual.attnpool
            self.out_dim = int(pool.c_proj.out_features if frame_token == "cls" else pool.c_proj.in_features)
        else:
            raise ValueError("image towers must be open_clip ViTs without attentional pooling or ModifiedResNets, "
                             f"got {type(visual)}")
        self.visual = visual
        self.frame_token = frame_token
        self.image_size = image_side(visual)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.freeze(frozen)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """Scale CLIP-style: frames (..., 3, h, w) in [0, 1] -> normalized with this tower's mean and std."""
        mean = frames.new_tensor(self.mean).view(3, 1, 1)
        std = frames.new_tensor(self.std).view(3, 1, 1)
        return (frames - mean) / std

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Args: frames (N, 3, h, w) normalized. Returns: (N, out_dim) one token per frame."""
        with self._grad_context():
            if isinstance(self.visual, ModifiedResNet):
                return self._resnet_token(frames)
            pooled, patches = self.visual(frames)  # (N, d), (N, h'*w', d)
            return pooled if self.frame_token == "cls" else patches.mean(dim=1)

    def _resnet_token(self, frames: torch.Tensor) -> torch.Tensor:
        net = self.visual
        if self.frame_token == "cls":
            return net(frames)  # open_clip's ResNet forward ends in the attention pool: CLIP-RN's image embedding
        x = net.stem(frames)
        for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
            x = stage(x)  # (N, c, h', w'), h' = image_size / 32 after layer4
        return x.mean(dim=(2, 3))


class TextTower(_FreezableTower):
    """CLIP text transformer: token ids (q, n) -> `TextFeatures` (per-token, pooled EOS, padding mask)."""

    def __init__(self, text: nn.Module, *, frozen: bool) -> None:
        super().__init__(frozen)
        if not isinstance(text, TextTransformer) or text.cls_emb is not None:
            raise ValueError(f"text towers must be open_clip TextTransformers without a CLS token, got {type(text)}")
        text.text_projection = None  # pooled EOS token before CLIP's projection, as the official code takes it
        text.output_tokens = True
        self.text = text
        self.pad_id = int(text.pad_id)
        self.context_length = int(text.context_length)
        self.out_dim = int(text.width)
        self.freeze(frozen)

    def forward(self, ids: torch.Tensor) -> TextFeatures:
        """Args: ids (q, n) int64, padded with 0. Returns: TextFeatures with (q, n, d), (q, d), (q, n)."""
        n = ids.shape[1]
        if n > self.context_length:
            raise ValueError(f"texts have {n} tokens, the text tower takes at most {self.context_length}")
        run_ids = ids
        if self.text.attn_mask is not None:
            # the causal mask has a fixed size; padding after EOS cannot change the (causal) valid tokens
            run_ids = F.pad(ids, (0, self.context_length - n), value=self.pad_id)
        with self._grad_context():
            pooled, tokens = self.text(run_ids)  # (q, d), (q, ctx, d)
        return TextFeatures(tokens=tokens[:, :n], pooled=pooled, mask=ids != self.pad_id)


def preprocess_stats(clip_model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalization mean and std open_clip attached to `clip_model` (CLIP's OpenAI values by default)."""
    cfg = getattr(clip_model.visual, "preprocess_cfg", None) or {}
    mean = cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)
    std = cfg.get("std", open_clip.OPENAI_DATASET_STD)
    return tuple(mean), tuple(std)
