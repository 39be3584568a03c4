"""1-D segments: temporal IoU, the seconds <-> sampled-frame-unit conversion, and pyramid anchor points.

Inside the model every time is in *level-0 sampled-frame units* (short: units): position i of the frame-token sequence
sits at u = i. The official code (Scenic UnLoc, ``datasets/dataset_utils.py``; paper §3.3) samples F frames with
``linspace(0, N-1, F)`` from N stored frames and maps a ground-truth frame index s continuously to s' = s·(F−1)/(N−1).
With the stored frames at ``fps`` a time t_sec is frame index t_sec·fps, so

    u = (t_sec − t0_sec) / sec_per_unit,   sec_per_unit = (N − 1) / ((F − 1) · fps),   t0_sec = 0.

A fixed-rate window (action segmentation: frames at 2 fps from a window starting at t0) is the same map with
``sec_per_unit = 1 / fps`` and ``t0_sec`` = the window start. One pair (sec_per_unit, t0_sec) per video therefore covers
both samplings, and every conversion in the package goes through :func:`sec_to_units` / :func:`units_to_sec`.

Pyramid anchors follow the shared model/ops contract: level l has stride s_l (level-0 units) and ceil(t / s_l)
positions; position i of level l is anchored at i·s_l. Levels are concatenated along time (T_tot positions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

Number = float | torch.Tensor


def safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den with den clamped to the smallest positive float: for lengths, den == 0 implies num == 0, giving 0."""
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def segment_length(seg: torch.Tensor) -> torch.Tensor:
    """(..., 2) -> (...) length end − start, clamped at 0 (a reversed segment has no length)."""
    return (seg[..., 1] - seg[..., 0]).clamp_min(0)


def tiou_with_lengths(a: torch.Tensor, b: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """:func:`tiou` with the lengths precomputed (``segment_length``), for loops that reuse them (NMS)."""
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    # inter <= min(len_a, len_b), so a zero union (two zero-length segments) has zero overlap: tIoU 0, never NaN.
    return safe_div(inter, len_a + len_b - inter)


def tiou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Temporal IoU of aligned segments.

    Args:
        a: (..., 2) segments (start, end), any unit.
        b: (..., 2) segments broadcastable with ``a``.

    Returns:
        (...) IoU in [0, 1]; 0 for disjoint or touching segments and for two zero-length segments.
    """
    return tiou_with_lengths(a, b, segment_length(a), segment_length(b))


def linspace_sec_per_unit(num_stored_frames: int, fps: float, num_sampled: int) -> float:
    """Seconds per sampled-frame unit for ``linspace(0, N-1, F)`` sampling of N stored frames at ``fps``.

    This is the official map s' = s·(F−1)/(N−1) on frame indices, written in seconds: (N−1) / ((F−1)·fps).

    Raises:
        ValueError: if N < 2, F < 2 or fps <= 0 (the map is undefined).
    """
    if num_stored_frames < 2 or num_sampled < 2 or not fps > 0:
        raise ValueError(
            f"linspace sampling needs >= 2 stored and sampled frames and fps > 0, got N={num_stored_frames}, "
            f"F={num_sampled}, fps={fps}"
        )
    return (num_stored_frames - 1) / ((num_sampled - 1) * fps)


def sec_to_units(t_sec: torch.Tensor, sec_per_unit: Number, t0_sec: Number = 0.0) -> torch.Tensor:
    """Seconds -> level-0 sampled-frame units: u = (t_sec − t0_sec) / sec_per_unit.

    Args:
        t_sec: times in seconds, any shape.
        sec_per_unit: float, or a tensor broadcastable with ``t_sec`` (e.g. (b, 1, 1) for per-video values).
        t0_sec: origin of the sampled window in seconds, same broadcasting as ``sec_per_unit``.
    """
    return (t_sec - t0_sec) / sec_per_unit


def units_to_sec(u: torch.Tensor, sec_per_unit: Number, t0_sec: Number = 0.0) -> torch.Tensor:
    """Level-0 sampled-frame units -> seconds: t_sec = u · sec_per_unit + t0_sec (inverse of :func:`sec_to_units`)."""
    return u * sec_per_unit + t0_sec


def level_lengths(t: int, strides: Sequence[int]) -> list[int]:
    """Number of positions per pyramid level: ceil(t / s_l)."""
    if t < 1 or not strides or any(s < 1 for s in strides):
        raise ValueError(f"need t >= 1 and positive strides, got t={t}, strides={tuple(strides)}")
    return [math.ceil(t / s) for s in strides]


class Points(NamedTuple):
    """Anchor points of all pyramid levels concatenated along time (unpacks as ``anchors, strides``)."""

    anchors: torch.Tensor  # (T_tot,) anchor position in level-0 units
    strides: torch.Tensor  # (T_tot,) stride of the position's level


def make_points(
    t: int, strides: Sequence[int], *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Points:
    """Anchors and per-position strides of a pyramid with level strides ``strides`` over ``t`` frame tokens.

    Args:
        t: number of level-0 frame tokens.
        strides: stride of each level in level-0 units, e.g. (1, 2, 4, 8); (1,) without a pyramid.

    Returns:
        Points(anchors (T_tot,), strides (T_tot,)), T_tot = Σ_l ceil(t / s_l); position i of level l is at i·s_l.
    """
    lengths = level_lengths(t, strides)
    anchors = torch.cat([torch.arange(n, device=device, dtype=dtype) * s for n, s in zip(lengths, strides)])
    point_strides = torch.cat([torch.full((n,), float(s), device=device, dtype=dtype) for n, s in zip(lengths, strides)])
    return Points(anchors, point_strides)


def point_mask(frame_mask: torch.Tensor, strides: Sequence[int]) -> torch.Tensor:
    """Validity of every pyramid position from the level-0 frame mask.

    A level-l position is valid when its anchor frame i·s_l is valid, the rule the model's pyramid uses for its level
    masks (so this equals the concatenated ``HeadOutputs.masks``); for a valid prefix of length n it is i·s_l < n.

    Args:
        frame_mask: (b, t) bool, True = valid frame token.
        strides: level strides.

    Returns:
        (b, T_tot) bool, levels concatenated in the order of ``strides``.
    """
    level_lengths(frame_mask.shape[-1], strides)  # validates strides
    return torch.cat([frame_mask[:, ::s] for s in strides], dim=-1).bool()
