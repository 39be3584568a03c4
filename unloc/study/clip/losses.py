"""The two-tower pretraining's InfoNCE losses (CLIP's symmetric objective, paper §3.1), with optional hard-negative
captions (NegCLIP style) and several frames per caption; used by `unloc.study.clip.pretraining`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_MAX_LOGIT_SCALE = 100.0  # CLIP clamps exp(logit_scale) to 100


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                     negative_emb: torch.Tensor | None = None,
                     negative_valid: torch.Tensor | None = None) -> torch.Tensor:
    """CLIP's symmetric InfoNCE: matching (image i, text i) against every other text and image of the batch.

    Args:
        image_emb: (b, d) image embeddings (normalized here).
        text_emb: (b, d) text embeddings of the same b pairs.
        logit_scale: () log of the inverse temperature; exp() is capped at 100.
        negative_emb: (b, d) optional hard-negative texts: every image also ranks these b extra captions
            (image->text only, as NegCLIP; the texts' own ranking of the images is unchanged).
        negative_valid: (b,) bool, the negatives to use (default all).

    Returns:
        () mean of the image->text and text->image cross entropies.
    """
    scale = logit_scale.exp().clamp(max=_MAX_LOGIT_SCALE)
    image = F.normalize(image_emb, dim=-1)
    logits = scale * image @ F.normalize(text_emb, dim=-1).T  # (b, b)
    target = torch.arange(len(logits), device=logits.device)
    i2t = logits
    if negative_emb is not None:
        neg = scale * image @ F.normalize(negative_emb, dim=-1).T  # (b, b)
        if negative_valid is not None:
            neg = neg.masked_fill(~negative_valid[None, :], float("-inf"))
        i2t = torch.cat([logits, neg], dim=1)  # (b, 2b)
    return 0.5 * (F.cross_entropy(i2t, target) + F.cross_entropy(logits.T, target))


def frames_caption_loss(frame_emb: torch.Tensor, frame_valid: torch.Tensor, frame_idx: torch.Tensor,
                        text_emb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """`contrastive_loss` with k frames per caption: every valid frame ranks the b captions (image->text), and each
    caption ranks the b pairs' `frame_idx` frames (text->image). With k = 1 it equals `contrastive_loss`.

    Args:
        frame_emb: (b, k, d) frame embeddings.
        frame_valid: (b, k) bool, True = the caption is true of that frame.
        frame_idx: (b,) the frame of each pair that the captions rank.
        text_emb: (b, d) caption embeddings.
        logit_scale: () log of the inverse temperature; exp() is capped at 100.

    Returns:
        () mean of the image->text (over valid frames) and text->image cross entropies.
    """
    b, k = frame_valid.shape
    scale = logit_scale.exp().clamp(max=_MAX_LOGIT_SCALE)
    logits = scale * F.normalize(frame_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T  # (b, k, b)
    target = torch.arange(b, device=logits.device)
    i2t = F.cross_entropy(logits[frame_valid], target[:, None].expand(b, k)[frame_valid])
    t2i = F.cross_entropy(logits[target, frame_idx].T, target)
    return 0.5 * (i2t + t2i)


__all__ = ["contrastive_loss", "frames_caption_loss"]
