"""Label assignment (paper §3.4; official ``datasets/dataset_utils.py``): which pyramid positions are positive for
which class, what they regress, and the per-frame labels of action segmentation.

Everything is in level-0 sampled-frame units (see ``segments``). A position with anchor a and stride s_l is positive for
a segment [s, e] when both FCOS-style checks pass:

1. regression range: lo_l ≤ max(a − s, e − a) < hi_l, on the unclipped segment;
2. centre sampling: max(s, c − r_l) ≤ a ≤ min(e, c + r_l), with c the segment centre and r_l = radius · s_l.

Classification targets are multi-hot per (class, position): segments of different classes covering one position all
count. Regression targets are kept per class. Where several segments of the *same* class are positive at one position,
we regress the shortest of them (ties: the first in the input). The official code instead takes, per class, the minimum
start distance and the minimum end distance separately over that class's segments, which can pair the start of one
segment with the end of another when same-class segments overlap; the shortest-positive rule always regresses a real
segment that also passed the regression-range check, and agrees with the official rule when same-class segments do not
overlap (the usual case). Targets are divided by the position's stride.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from einops import rearrange

from unloc.ops.segments import make_points


class Targets(NamedTuple):
    """Output of :func:`assign_targets`."""

    cls_targets: torch.Tensor  # (b, q, T_tot) float in {0, 1}
    reg_targets: torch.Tensor  # (b, q, T_tot, 2) (a − s, e − a) / stride; 0 where not positive
    point_mask: torch.Tensor  # (b, T_tot) bool, True = valid position


def _check_segments(segments: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if segments.dim() != 3 or segments.shape[-1] != 2 or labels.shape != segments.shape[:2]:
        raise ValueError(f"expected segments (b, s, 2) and labels (b, s), got {tuple(segments.shape)}, "
                         f"{tuple(labels.shape)}")
    valid = labels >= 0
    if bool((labels[valid] >= num_classes).any()):
        raise ValueError(f"segment label >= num_classes={num_classes}: {labels[valid].max().item()}")
    if bool((segments[..., 1] < segments[..., 0])[valid].any()):
        b, s = torch.nonzero((segments[..., 1] < segments[..., 0]) & valid)[0].tolist()
        raise ValueError(f"segment {s} of video {b} ends before it starts: {segments[b, s].tolist()}")


def _level_bounds(
    t: int, strides: Sequence[int], regression_ranges: Sequence[tuple[float, float]], like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Anchors, strides, and range lows/highs per position, each (T_tot,)."""
    if len(regression_ranges) != len(strides):
        raise ValueError(f"{len(regression_ranges)} regression ranges for {len(strides)} pyramid levels")
    anchors, point_strides = make_points(t, strides, device=like.device, dtype=like.dtype)
    counts = torch.tensor([int((point_strides == s).sum()) for s in strides], device=like.device)
    lo = torch.tensor([float(r[0]) for r in regression_ranges], device=like.device, dtype=like.dtype)
    hi = torch.tensor([float(r[1]) for r in regression_ranges], device=like.device, dtype=like.dtype)
    return anchors, point_strides, lo.repeat_interleave(counts), hi.repeat_interleave(counts)


def positive_mask(
    segments: torch.Tensor,
    valid: torch.Tensor,
    anchors: torch.Tensor,
    point_strides: torch.Tensor,
    range_lo: torch.Tensor,
    range_hi: torch.Tensor,
    radius: float,
) -> torch.Tensor:
    """(b, s, T_tot) bool: the segment-position pairs passing both the regression-range and centre-sampling checks.

    Args:
        segments: (b, s, 2) in level-0 units; valid: (b, s) bool (False = padding).
        anchors, point_strides, range_lo, range_hi: (T_tot,) per-position anchor, stride and regression range.
        radius: centre-sampling radius in units of the position's stride.
    """
    start, end = segments[..., 0:1], segments[..., 1:2]  # (b, s, 1)
    left, right = anchors - start, end - anchors  # (b, s, T)
    reach = torch.maximum(left, right)
    in_range = (reach >= range_lo) & (reach < range_hi)
    centre, r = (start + end) / 2, radius * point_strides
    in_centre = (anchors >= torch.maximum(start, centre - r)) & (anchors <= torch.minimum(end, centre + r))
    return in_range & in_centre & valid[..., None]


def assign_targets(
    segments: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int,
    t: int,
    strides: Sequence[int],
    regression_ranges: Sequence[tuple[float, float]],
    radius: float = 3.0,
    point_mask: torch.Tensor | None = None,
) -> Targets:
    """Classification and regression targets for every (video, class, pyramid position).

    Args:
        segments: (b, s, 2) ground-truth (start, end) in level-0 sampled-frame units; rows with label −1 are padding.
        labels: (b, s) long class index in [0, num_classes), −1 = padding. Moment retrieval uses ``num_classes=1``
            and label 0 for the caption's segments.
        num_classes: q.
        t: number of level-0 frame tokens; the pyramid points come from ``make_points(t, strides)``.
        strides: level strides, e.g. (1, 2, 4, 8).
        regression_ranges: per level (lo, hi) on max(a − s, e − a); hi may be ``float('inf')``. Official ANet:
            (0, 4), (4, 8), (8, 16), (16, inf).
        radius: centre-sampling radius in strides (official 3.0).
        point_mask: optional (b, T_tot) bool of valid positions (see ``segments.point_mask``); positives outside it are
            dropped. Default: all valid.

    Returns:
        Targets(cls_targets (b, q, T_tot), reg_targets (b, q, T_tot, 2), point_mask (b, T_tot)).
    """
    _check_segments(segments, labels, num_classes)
    segments = segments.float()
    b, s = labels.shape
    anchors, point_strides, lo, hi = _level_bounds(t, strides, regression_ranges, segments)
    n_pts = anchors.numel()
    if point_mask is None:
        point_mask = torch.ones(b, n_pts, dtype=torch.bool, device=segments.device)
    if point_mask.shape != (b, n_pts):
        raise ValueError(f"point_mask must be ({b}, {n_pts}), got {tuple(point_mask.shape)}")
    cls_targets = segments.new_zeros(b, num_classes, n_pts)
    reg_targets = segments.new_zeros(b, num_classes, n_pts, 2)
    if s == 0:
        return Targets(cls_targets, reg_targets, point_mask)

    valid = labels >= 0
    pos = positive_mask(segments, valid, anchors, point_strides, lo, hi, radius) & point_mask[:, None, :]  # (b, s, T)

    # Rank segments by length (stable: ties keep input order); per (video, class, position) keep the best rank among
    # positive segments of that class with one scatter-min, so overlapping same-class segments resolve to the shortest.
    order = torch.argsort(segments[..., 1] - segments[..., 0], dim=1, stable=True)  # (b, s) rank -> segment
    rank = torch.argsort(order, dim=1)  # (b, s) segment -> rank
    key = torch.where(pos, rank[..., None], s)  # (b, s, T), s = "no positive"
    best = torch.full((b, num_classes, n_pts), s, dtype=torch.long, device=segments.device)
    cls_index = labels.clamp_min(0)[..., None].expand(b, s, n_pts)
    best.scatter_reduce_(1, cls_index, key, reduce="amin", include_self=True)  # (b, q, T)

    is_pos = best < s
    seg_index = torch.gather(order, 1, rearrange(best.clamp_max(s - 1), "b q t -> b (q t)"))  # (b, q*T)
    seg_index = rearrange(seg_index, "b (q t) -> b q t", q=num_classes)
    left = anchors - segments[..., 0:1]  # (b, s, T)
    right = segments[..., 1:2] - anchors
    reg = torch.stack([torch.gather(left, 1, seg_index), torch.gather(right, 1, seg_index)], dim=-1)  # (b, q, T, 2)
    reg = reg / point_strides[:, None]
    reg_targets = torch.where(is_pos[..., None], reg, reg_targets)
    return Targets(is_pos.to(cls_targets.dtype), reg_targets, point_mask)


def frame_labels(
    segments: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int,
    t: int,
    frame_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-frame action-segmentation labels (official ``add_action_segmentation_labels``).

    Frame i (level-0 units) belongs to segment [s, e] when s ≤ i ≤ e. Where segments overlap, the later segment in the
    input overwrites the earlier ones, so a frame has at most one positive class; frames outside every segment are
    background (all zero; there is no background class).

    Args:
        segments: (b, s, 2) (start, end) in level-0 units of the window; label −1 rows are padding.
        labels: (b, s) long class index, −1 = padding.
        num_classes: q.
        t: number of frames in the window.
        frame_mask: optional (b, t) bool; labels of invalid frames are zeroed.

    Returns:
        (b, q, t) float labels in {0, 1}.
    """
    _check_segments(segments, labels, num_classes)
    b, s = labels.shape
    out = segments.new_zeros(b, num_classes, t, dtype=torch.float32)
    if s == 0:
        return out
    idx = torch.arange(t, device=segments.device, dtype=segments.dtype)
    cover = (segments[..., 0:1] <= idx) & (idx <= segments[..., 1:2]) & (labels >= 0)[..., None]  # (b, s, t)
    seg_order = torch.arange(s, device=segments.device)[:, None]
    last = torch.where(cover, seg_order, -1).amax(dim=1)  # (b, t): last covering segment, −1 = background
    if frame_mask is not None:
        last = torch.where(frame_mask, last, -1)
    cls = torch.gather(labels, 1, last.clamp_min(0))  # (b, t)
    out.scatter_(1, cls[:, None, :], (last >= 0)[:, None, :].float())
    return out
