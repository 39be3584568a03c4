"""Losses of UnLoc (paper §3.4): sigmoid focal / BCE relevancy losses and 1-D box regression losses.

Regression losses compare (start, end) displacement pairs anchored at the same point (both non-negative, any common
unit). Because the two segments share the anchor, intersection = min(ds) + min(de) and union = max(ds) + max(de), and
the union equals the enclosing length. The options follow the official code (``temporal_localization_base_model.py``):
``'iou'`` (1 − IoU, used by every official config), ``'l1'`` (|Δs| + |Δe| divided by the union), ``'diou'`` (1 − IoU +
squared centre offset over squared enclosing length; official ``'iou+center_offset_squared'``) and ``'l1+iou'`` (the
official default when unset).

Normalisation follows the official code, not ActionFormer: the focal loss is summed over classes and positions and
divided by the number of valid (video, position) pairs (not by the number of positives, no EMA), times ``cls_weight``
(10.0); the box loss is averaged over positive (position, class) cells.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from unloc.ops.segments import safe_div

BOX_LOSSES = ("l1", "iou", "diou", "l1+iou")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017), element-wise equal to ``torchvision.ops.sigmoid_focal_loss``.

    Args:
        logits: raw scores, any shape.
        targets: same shape, in [0, 1].
        alpha: weight of positives (1 − alpha on negatives); a negative value disables the weighting.
        gamma: focusing exponent on (1 − p_t).
        reduction: 'none' | 'sum' | 'mean'.
    """
    targets = targets.to(logits.dtype)
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return _reduce(loss, reduction)


def sigmoid_bce(logits: torch.Tensor, targets: torch.Tensor, *, reduction: str = "none") -> torch.Tensor:
    """Sigmoid binary cross-entropy on raw logits (numerically stable), any shape."""
    return _reduce(F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none"), reduction)


def _pair_terms(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and union of displacement pairs anchored at the same point; (..., 2) -> (...), (...)."""
    inter = torch.minimum(pred, target).sum(-1)
    union = torch.maximum(pred, target).sum(-1)
    # Both pairs (0, 0): no length to compare, IoU 0 (the same convention as segments.tiou).
    return safe_div(inter, union), union


def box_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "iou") -> torch.Tensor:
    """Element-wise 1-D box regression loss on (start, end) displacements from a shared anchor.

    Args:
        pred: (..., 2) predicted non-negative displacements (ds, de).
        target: (..., 2) target displacements, same unit.
        kind: 'l1' | 'iou' | 'diou' | 'l1+iou' (see the module docstring).

    Returns:
        (...) per-pair loss.
    """
    if kind not in BOX_LOSSES:
        raise ValueError(f"box loss must be one of {BOX_LOSSES}, got {kind!r}")
    iou, union = _pair_terms(pred, target)
    iou_loss = 1 - iou
    l1 = safe_div((pred - target).abs().sum(-1), union)
    if kind == "iou":
        return iou_loss
    if kind == "l1":
        return l1
    if kind == "l1+iou":
        return l1 + iou_loss
    # Centres relative to the anchor are (de − ds) / 2; the enclosing length is the union.
    offset = ((pred[..., 1] - pred[..., 0]) - (target[..., 1] - target[..., 0])) / 2
    return iou_loss + safe_div(offset, union) ** 2


def check_finite(losses: Mapping[str, torch.Tensor]) -> None:
    """Raise ``FloatingPointError`` naming the first loss term that is NaN or infinite.

    One host sync for all terms; call it once per step (the loss functions below do unless ``check=False``).
    """
    names = list(losses)
    finite = torch.stack([torch.isfinite(losses[k].detach()).all() for k in names]).cpu()
    for name, ok in zip(names, finite.tolist()):
        if not ok:
            raise FloatingPointError(f"loss term {name!r} is not finite: {losses[name].detach().cpu()}")


def localization_loss(
    cls_logits: torch.Tensor,
    reg_pred: torch.Tensor,
    cls_targets: torch.Tensor,
    reg_targets: torch.Tensor,
    point_mask: torch.Tensor,
    *,
    cls_weight: float = 10.0,
    box: str = "iou",
    alpha: float = 0.25,
    gamma: float = 2.0,
    per_query_normalizer: bool = False,
    check: bool = True,
) -> dict[str, torch.Tensor]:
    """UnLoc's TAL / MR loss: ``cls_weight`` · focal + box loss, with the official normalisation.

    Args:
        cls_logits: (b, q, T) relevancy logits over all levels concatenated.
        reg_pred: (b, q, T, 2) predicted displacements in units of each position's stride.
        cls_targets: (b, q, T) in {0, 1} (from ``assign.assign_targets``).
        reg_targets: (b, q, T, 2) target displacements in units of each position's stride.
        point_mask: (b, T) bool, True = valid position.
        cls_weight: weight of the classification term (official ``classification_loss_alpha`` = 10.0).
        box: regression loss kind, see :func:`box_loss` (official configs: 'iou').
        alpha, gamma: focal loss parameters.
        per_query_normalizer: divide the focal sum by the number of valid (video, query, position) triples instead of
            (video, position) pairs. Official TAL uses pairs; official MR (all video x caption pairs) uses triples.
        check: raise ``FloatingPointError`` if a term is not finite (see :func:`check_finite`).

    Returns:
        dict with 'loss' (total), 'cls_loss' (normalised focal, before ``cls_weight``), 'box_loss' (mean over
        positives; 0 when there are none) and 'num_pos' (number of positive cells, float).
    """
    b, q, t = cls_logits.shape
    mask = point_mask[:, None, :].expand(b, q, t)  # (b, q, T)
    focal = sigmoid_focal_loss(cls_logits, cls_targets, alpha=alpha, gamma=gamma)
    focal_sum = torch.where(mask, focal, torch.zeros_like(focal)).sum()
    num_valid = point_mask.sum() * (q if per_query_normalizer else 1)
    cls_loss = focal_sum / num_valid.clamp_min(1)

    positive = (cls_targets > 0) & mask
    num_pos = positive.sum().to(cls_logits.dtype)
    box_sum = box_loss(reg_pred[positive], reg_targets[positive].to(reg_pred.dtype), box).sum()  # (n_pos, 2) -> ()
    box_term = box_sum / (num_pos + 1e-8)

    # Components first, so a non-finite input is reported by the term it entered through.
    out = {"cls_loss": cls_loss, "box_loss": box_term, "num_pos": num_pos, "loss": cls_weight * cls_loss + box_term}
    if check:
        check_finite(out)
    return out


def segmentation_loss(
    logits: torch.Tensor, targets: torch.Tensor, frame_mask: torch.Tensor, *, check: bool = True
) -> dict[str, torch.Tensor]:
    """Action-segmentation loss: sigmoid BCE summed over classes and valid frames, divided by the valid frames.

    Args:
        logits: (b, q, t) per-class frame logits.
        targets: (b, q, t) per-frame labels in {0, 1} (from ``assign.frame_labels``; background = all zero).
        frame_mask: (b, t) bool, True = valid frame.
        check: raise ``FloatingPointError`` if the loss is not finite.

    Returns:
        dict with 'loss' and 'num_frames'.
    """
    bce = sigmoid_bce(logits, targets)  # (b, q, t)
    mask = frame_mask[:, None, :].expand_as(bce)
    num_frames = frame_mask.sum().to(logits.dtype)
    loss = torch.where(mask, bce, torch.zeros_like(bce)).sum() / num_frames.clamp_min(1)
    out = {"loss": loss, "num_frames": num_frames}
    if check:
        check_finite(out)
    return out
