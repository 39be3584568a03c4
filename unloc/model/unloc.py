"""The UnLoc model: towers -> projections -> fusion -> pyramid -> heads, for every (video, text) pair (paper §3).

Every video is fused with every text (class prompts for TAL and segmentation, captions for MR): b videos x q texts
give b*q fusion passes of t + n tokens, run `chunk_size` pairs at a time so that 200 classes x 128 frames fit in
memory; with `checkpoint_chunks` each chunk is recomputed in the backward pass, so training keeps one chunk's
activations instead of all of them (the official TAL/COIN configs use remat for this). `pair_video_idx` fuses each
text with one video only (official QVHighlights highlight detection). The late-fusion and text-free variants encode
each video once. The model returns `HeadOutputs`; losses, targets and decoding live in tasks/ops.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

from unloc.model.fusion import FusionEncoder
from unloc.model.heads import LocalizationHead
from unloc.model.outputs import HeadOutputs
from unloc.model.towers import ImageTower, TextFeatures, TextTower

TextInput = torch.Tensor | TextFeatures


class UnLoc(nn.Module):
    """UnLoc from built parts.

    Args:
        image_tower: per-frame image encoder (frames -> (N, d_img)).
        text_tower: text encoder, or None for mode 'no_text' (then text_proj is None too).
        image_proj, text_proj: bias-free projections into the fusion width; they always train (text_proj is an
            identity when CLIP's own text embeddings enter the fusion, ModelConfig.text_projection 'clip').
        fusion: the fusion transformer; pyramid: drives `fusion` and returns levels; heads: scores the levels.
        mode: 'mid' (pairs fused in the encoder), 'late' (cosine with the text) or 'no_text' (class logits).
        text_input: 'one' (pooled EOS token) or 'all' (every text token with its mask) for mode 'mid'.
        chunk_size: (video, text) pairs fused at a time; 0 = all at once.
        checkpoint_chunks: recompute each chunk in the backward pass (bounded training memory).
    """

    def __init__(self, *, image_tower: ImageTower, text_tower: TextTower | None, image_proj: nn.Linear,
                 text_proj: nn.Module | None, fusion: FusionEncoder, pyramid: nn.Module, heads: LocalizationHead,
                 mode: str, text_input: str, chunk_size: int = 0, checkpoint_chunks: bool = False) -> None:
        super().__init__()
        if (mode == "no_text") != (text_tower is None):
            raise ValueError(f"mode={mode!r} needs {'no' if mode == 'no_text' else 'a'} text tower")
        self.image_tower, self.text_tower = image_tower, text_tower
        self.image_proj, self.text_proj = image_proj, text_proj
        self.fusion, self.pyramid, self.heads = fusion, pyramid, heads
        self.mode, self.text_input = mode, text_input
        self.chunk_size, self.checkpoint_chunks = chunk_size, checkpoint_chunks

    @property
    def strides(self) -> tuple[int, ...]:
        return self.pyramid.strides

    def encode_frames(self, video: torch.Tensor) -> torch.Tensor:
        """Frames (b, t, 3, h, w) or cached image-tower features (b, t, d_img) -> projected (b, t, d)."""
        if video.dim() == 5:
            b, t = video.shape[:2]
            feats = self.image_tower(rearrange(video, "b t c h w -> (b t) c h w"), num_frames=t)
            video = rearrange(feats, "(b t) d -> b t d", b=b)
        elif video.dim() != 3:
            raise ValueError(f"video must be frames (b, t, 3, h, w) or features (b, t, d), got {tuple(video.shape)}")
        return self.image_proj(video)

    def encode_text(self, text: TextInput) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (q, n), text-tower `TextFeatures`, or cached pooled features (q, d_txt) -> fusion inputs.

        Returns:
            tokens (q, n', d) projected into the fusion width (n' = 1 for text_input 'one') and mask (q, n').
        """
        if not isinstance(text, TextFeatures) and not text.is_floating_point():
            text = self.text_tower(text)
        if isinstance(text, TextFeatures) and self.text_input == "all":
            return self.text_proj(text.tokens), text.mask
        pooled = text.pooled if isinstance(text, TextFeatures) else text
        if self.text_input == "all" or pooled.dim() != 2:
            raise ValueError(f"text_input={self.text_input!r} cannot use cached features of shape {tuple(pooled.shape)}")
        tokens = self.text_proj(pooled).unsqueeze(1)  # (q, 1, d)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)

    def forward(self, video: torch.Tensor, text: TextInput | None = None, video_mask: torch.Tensor | None = None,
                pair_video_idx: torch.Tensor | None = None) -> HeadOutputs:
        """Score every (video, text) pair at every pyramid position, or only the pairs `pair_video_idx` names.

        Args:
            video: frames (b, t, 3, h, w) normalized for the image tower, or its cached features (b, t, d_img).
            text: token ids (q, n), `TextFeatures`, or cached pooled features (q, d_txt); None for 'no_text'.
            video_mask: (b, t) bool, True = real frame; None = all valid.
            pair_video_idx: (q,) the one video of each text (official QVHighlights: each query with its own video
                only); None = every video with every text.

        Returns:
            HeadOutputs with logits (b, q, t_l), offsets (b, q, t_l, 2) and masks (b, t_l) per level; with
            `pair_video_idx`, one row per pair: logits (q, 1, t_l), offsets (q, 1, t_l, 2), masks (q, t_l).
        """
        if (text is None) != (self.mode == "no_text"):
            raise ValueError(f"mode={self.mode!r} {'takes no' if self.mode == 'no_text' else 'needs a'} text input")
        if pair_video_idx is not None and self.mode != "mid":
            raise ValueError(f"pair_video_idx pairs texts with videos in the fusion: mode 'mid', not {self.mode!r}")
        frames = self.encode_frames(video)  # (b, t, d)
        if video_mask is None:
            video_mask = torch.ones(frames.shape[:2], dtype=torch.bool, device=frames.device)
        if self.mode == "mid":
            logits, offsets = self._fuse_pairs(frames, video_mask, *self.encode_text(text), pair_video_idx)
            if pair_video_idx is not None:
                video_mask = video_mask[pair_video_idx.to(video_mask.device)]
        else:
            text_emb = self.encode_text(text)[0][:, 0] if self.mode == "late" else None  # (q, d)
            levels, masks = self.pyramid(self.fusion, frames, video_mask)
            logits, offsets = self.heads(levels, masks, text_emb)
            if offsets is not None:  # class-agnostic displacements, shared by every query
                offsets = [o.expand(-1, z.shape[1], -1, -1) for o, z in zip(offsets, logits)]
        return HeadOutputs(logits, offsets, self.pyramid.level_masks(video_mask), self.strides)

    def _fuse_pairs(self, frames: torch.Tensor, frame_mask: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                    pair_video_idx: torch.Tensor | None = None,
                    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Fuse the pairs in chunks. frames (b, t, d), text (q, n, d) -> per level (r, c, t_l), (r, c, t_l, 2) with
        (r, c) = (b, q) for all pairs, (q, 1) for the pairs (pair_video_idx[j], j)."""
        b, q = frames.shape[0], text.shape[0]
        if pair_video_idx is None:
            pairs = torch.arange(b * q, device=frames.device)
            video_all, text_all, rows = pairs // q, pairs % q, b
        else:
            if pair_video_idx.shape != (q,):
                raise ValueError(f"pair_video_idx must hold one video per text ({q}), got {tuple(pair_video_idx.shape)}")
            video_all, text_all, rows = pair_video_idx.to(frames.device), torch.arange(q, device=frames.device), q
        outputs = []
        for chunk in torch.arange(len(video_all), device=frames.device).split(self.chunk_size or len(video_all)):
            video_idx, text_idx = video_all[chunk], text_all[chunk]
            inputs = (frames[video_idx], frame_mask[video_idx], text[text_idx], text_mask[text_idx])
            if self.checkpoint_chunks and torch.is_grad_enabled():
                outputs.append(checkpoint(self._score_pairs, *inputs, use_reentrant=False))
            else:
                outputs.append(self._score_pairs(*inputs))
        per_level = [rearrange(torch.cat(parts), "(r c) 1 ... -> r c ...", r=rows) for parts in zip(*outputs)]
        n = self.pyramid.num_levels
        return per_level[:n], (per_level[n:] or None)

    def _score_pairs(self, frames: torch.Tensor, frame_mask: torch.Tensor, text: torch.Tensor,
                     text_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One chunk of c pairs -> logits (c, 1, t_l) per level, then offsets (c, 1, t_l, 2) per level."""
        levels, masks = self.pyramid(self.fusion, frames, frame_mask, text, text_mask)
        logits, offsets = self.heads(levels, masks)
        return (*logits, *(offsets or ()))
