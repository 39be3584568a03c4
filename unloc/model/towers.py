"""CLIP image and text towers of UnLoc, wrapped around open_clip's modules (paper §3.1; reference §1.2-1.3).

The image tower encodes every frame on its own and returns one token per frame (`frame_token`):
- 'cls': CLIP's CLS token after `ln_post`, one CLS shared by every frame (this port's original B token; frame features
  then do not depend on the frame's position and can be cached);
- 'frame_cls': the official B token: a different learnable CLS per frame position (`frame_positions` of them, started
  as CLIP's CLS tiled), its output after `ln_post`; it acts as a temporal embedding inside the image tower. A clip of
  another length reads them linearly interpolated along time (the official code resizes them once, when it loads a
  checkpoint of another frame count; the same tokens at the start, a different parameterisation while training);
- 'mean': the mean of the patch tokens after `ln_post`, with CLIP's CLS still in the ViT's sequence (this port's
  original L token);
- 'gap': the official L token (classifier 'gap'): the CLS token and its positional embedding are left out of the
  sequence, and the frame token is the mean of the patch tokens after `ln_post`.
CLIP's ResNets (open_clip `ModifiedResNet`) are accepted too (tokens 'cls' and 'mean'), for the mini-world's stand-in
CLIP, whose ViT is too small to learn shapes from 64 px frames: 'cls' is then the attention-pool output (its query is
the mean token, the ResNet's counterpart of the CLS token; the pool's output projection is part of it, there is no
separate one to remove) and 'mean' the average of the last stage's feature map.
The text tower returns every token after `ln_final`, the pooled EOS token and the padding mask (pad id 0).
CLIP's own output projections are removed: UnLoc projects both towers into the fusion width with fresh layers that
live outside the towers and always train. The one exception is `TextTower(project=True)`: the tower keeps CLIP's text
projection and returns CLIP's text embeddings (tokens projected too), the fixed class embeddings that the official
TAL-L and COIN-L configs read from a precomputed file (ModelConfig.text_projection 'clip'). A frozen tower has no trainable parameters, runs without autograd and
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

OFFICIAL_TOKENS = ("frame_cls", "gap")  # computed by `_vit_frame_tokens` rather than open_clip's forward


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

    Inputs are already resized to `image_size` and normalized with `mean`/`std` (see `normalize`). With
    `frame_token='frame_cls'` the N frames are clips of `num_frames` consecutive frames ((b t) order) and
    `frame_positions` learnable CLS tokens are created.
    """

    def __init__(self, visual: nn.Module, *, frame_token: str, frozen: bool,
                 mean: tuple[float, ...], std: tuple[float, ...], frame_positions: int = 0) -> None:
        super().__init__(frozen)
        if frame_token not in FRAME_TOKENS:
            raise ValueError(f"frame_token={frame_token!r} must be one of {FRAME_TOKENS}")
        if isinstance(visual, VisionTransformer) and visual.attn_pool is None:
            if frame_token in ("cls", *OFFICIAL_TOKENS) and visual.pool_type != "tok":
                raise ValueError(f"frame_token={frame_token!r} needs a ViT with a CLS token (pool_type "
                                 f"{visual.pool_type})")
            if frame_token in OFFICIAL_TOKENS and (visual.final_ln_after_pool
                                                   or not isinstance(visual.patch_dropout, nn.Identity)):
                raise ValueError(f"frame_token={frame_token!r} needs a CLIP-style ViT (ln_post on every token, no "
                                 "patch dropout)")
            visual.proj = None  # the per-frame token is taken before CLIP's projection (reference §1.2)
            visual.output_tokens = True
            self.out_dim = int(visual.ln_post.normalized_shape[0])
        elif isinstance(visual, ModifiedResNet) and frame_token not in OFFICIAL_TOKENS:
            pool = visual.attnpool
            self.out_dim = int(pool.c_proj.out_features if frame_token == "cls" else pool.c_proj.in_features)
        else:
            raise ValueError("image towers must be open_clip ViTs without attentional pooling or ModifiedResNets "
                             f"(ResNets: frame_token 'cls' or 'mean'), got {type(visual)} with {frame_token!r}")
        if (frame_token == "frame_cls") != (frame_positions > 0):
            raise ValueError(f"frame_positions={frame_positions}: frame_token 'frame_cls' needs >= 1, other tokens 0")
        self.visual = visual
        self.frame_token = frame_token
        if frame_token == "frame_cls":  # (frame_positions, width), started as CLIP's CLS at every position
            self.frame_cls = nn.Parameter(visual.class_embedding.detach().clone().repeat(frame_positions, 1))
        self.image_size = image_side(visual)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.freeze(frozen)

    def freeze(self, frozen: bool = True) -> None:
        super().freeze(frozen)
        if self.frame_token in OFFICIAL_TOKENS:  # CLIP's shared CLS is unused: never trained (DDP needs every
            self.visual.class_embedding.requires_grad_(False)  # trainable parameter to take part in each step)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """Scale CLIP-style: frames (..., 3, h, w) in [0, 1] -> normalized with this tower's mean and std."""
        mean = frames.new_tensor(self.mean).view(3, 1, 1)
        std = frames.new_tensor(self.std).view(3, 1, 1)
        return (frames - mean) / std

    def forward(self, frames: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """Args: frames (N, 3, h, w) normalized; num_frames: frames per clip ('frame_cls' only: N = clips x
        num_frames in (b t) order). Returns: (N, out_dim) one token per frame."""
        with self._grad_context():
            if isinstance(self.visual, ModifiedResNet):
                return self._resnet_token(frames)
            if self.frame_token in OFFICIAL_TOKENS:
                return self._official_token(frames, num_frames)
            pooled, patches = self.visual(frames)  # (N, d), (N, h'*w', d)
            return pooled if self.frame_token == "cls" else patches.mean(dim=1)

    def frame_cls_tokens(self, num_frames: int) -> torch.Tensor:
        """(num_frames, width) CLS tokens of a clip: the learned ones, linearly interpolated to another length."""
        tokens = self.frame_cls  # (p, w)
        if num_frames == tokens.shape[0]:
            return tokens
        resized = F.interpolate(tokens.T[None], size=num_frames, mode="linear", align_corners=False)  # (1, w, t)
        return resized[0].T

    def _official_token(self, frames: torch.Tensor, num_frames: int | None) -> torch.Tensor:
        """'frame_cls' / 'gap' tokens through the ViT's own modules (open_clip's embedding order: conv1, CLS,
        positions, ln_pre, blocks, ln_post)."""
        v = self.visual
        x = v.conv1(frames).flatten(2).transpose(1, 2)  # (N, g*g, w) patch embeddings
        pos = v.positional_embedding.to(x.dtype)  # (1 + g*g, w), row 0 = the CLS position
        if self.frame_token == "gap":
            x = x + pos[1:]  # no CLS token: the sequence is the patches alone
        else:
            n = x.shape[0]
            if num_frames is None or num_frames < 1 or n % num_frames:
                raise ValueError(f"frame_token 'frame_cls' encodes whole clips in order: {n} frames with "
                                 f"num_frames={num_frames} (its tokens depend on the frame's position, so they cannot "
                                 "be computed frame by frame, e.g. for a feature cache)")
            cls = self.frame_cls_tokens(num_frames).repeat(n // num_frames, 1)  # (N, w) in (b t) order
            x = torch.cat([cls[:, None].to(x.dtype), x], dim=1) + pos
        x = v.ln_post(v.transformer(v.ln_pre(x)))  # (N, 1? + g*g, w)
        return x[:, 0] if self.frame_token == "frame_cls" else x.mean(dim=1)

    def _resnet_token(self, frames: torch.Tensor) -> torch.Tensor:
        net = self.visual
        if self.frame_token == "cls":
            return net(frames)  # open_clip's ResNet forward ends in the attention pool: CLIP-RN's image embedding
        x = net.stem(frames)
        for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
            x = stage(x)  # (N, c, h', w'), h' = image_size / 32 after layer4
        return x.mean(dim=(2, 3))


class TextTower(_FreezableTower):
    """CLIP text transformer: token ids (q, n) -> `TextFeatures` (per-token, pooled EOS, padding mask).

    `project`: keep CLIP's text projection (outputs in CLIP's embedding space) instead of removing it.
    """

    def __init__(self, text: nn.Module, *, frozen: bool, project: bool = False) -> None:
        super().__init__(frozen)
        if not isinstance(text, TextTransformer) or text.cls_emb is not None:
            raise ValueError(f"text towers must be open_clip TextTransformers without a CLS token, got {type(text)}")
        proj = text.text_projection
        if project and proj is None:
            raise ValueError("project=True needs a text tower with CLIP's text projection")
        if not project:
            text.text_projection = None  # pooled EOS token before CLIP's projection, as the official code takes it
        text.output_tokens = True
        self.text = text
        self.project = project
        self.pad_id = int(text.pad_id)
        self.context_length = int(text.context_length)
        self.out_dim = int(text.width) if not project else \
            int(proj.out_features if isinstance(proj, nn.Linear) else proj.shape[1])
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
            pooled, tokens = self.text(run_ids)  # (q, d), (q, ctx, d); pooled projected when self.project
            if self.project:
                proj = self.text.text_projection
                tokens = proj(tokens) if isinstance(proj, nn.Linear) else tokens @ proj
        return TextFeatures(tokens=tokens[:, :n], pooled=pooled, mask=ids != self.pad_id)


def preprocess_stats(clip_model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalization mean and std open_clip attached to `clip_model` (CLIP's OpenAI values by default)."""
    cfg = getattr(clip_model.visual, "preprocess_cfg", None) or {}
    mean = cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)
    std = cfg.get("std", open_clip.OPENAI_DATASET_STD)
    return tuple(mean), tuple(std)
