"""Displacements <-> segments in seconds (paper §3.5; official ``postprocessing_utils.get_segments_from_frame_predictions``).

A position with anchor a (level-0 units) and stride s predicts (ds, de) in units of its stride; its segment is

    start_sec = (a − ds·s) · sec_per_unit + t0_sec,   end_sec = (a + de·s) · sec_per_unit + t0_sec,

clipped to [0, duration_sec]. (sec_per_unit, t0_sec) are the per-video sampling constants of ``segments``; for
linspace sampling this reproduces the official (a ∓ d·2^l)·(N−1)/(F−1)·secs_per_timestep.
"""

from __future__ import annotations

import torch

from unloc.ops.segments import Number, units_to_sec


def _per_video(x: Number | None, ndim: int, like: torch.Tensor) -> Number | None:
    """A float stays a float; a (b,) tensor becomes (b, 1, ..., 1) to broadcast against a tensor with ``ndim`` axes."""
    if x is None or not isinstance(x, torch.Tensor):
        return x
    x = x.to(device=like.device, dtype=like.dtype)
    return x.reshape(x.shape + (1,) * (ndim - x.dim()))


def decode_segments(
    offsets: torch.Tensor,
    anchors: torch.Tensor,
    point_strides: torch.Tensor,
    *,
    sec_per_unit: Number,
    t0_sec: Number = 0.0,
    duration_sec: Number | None = None,
) -> torch.Tensor:
    """Predicted displacements -> (start, end) segments in seconds.

    Args:
        offsets: (b, q, T, 2) non-negative (ds, de) in units of each position's stride (``HeadOutputs.offsets``
            concatenated over levels). Any leading axes work as long as the last two are (T, 2).
        anchors: (T,) anchor positions in level-0 units (``make_points``).
        point_strides: (T,) per-position stride.
        sec_per_unit: seconds per level-0 unit; float or (b,) per video.
        t0_sec: start of the sampled window in seconds; float or (b,).
        duration_sec: video duration; float or (b,). Segments are clipped to [0, duration_sec]; None clips only at 0.

    Returns:
        (b, q, T, 2) segments in seconds.
    """
    ndim = offsets.dim() - 1  # broadcast per-video values against (b, q, T)
    spu, t0 = _per_video(sec_per_unit, ndim, offsets), _per_video(t0_sec, ndim, offsets)
    reach = offsets * point_strides[:, None]  # (..., T, 2) in level-0 units
    start = units_to_sec(anchors - reach[..., 0], spu, t0)
    end = units_to_sec(anchors + reach[..., 1], spu, t0)
    seg = torch.stack([start, end], dim=-1).clamp_min(0)
    if duration_sec is not None:
        dur = _per_video(duration_sec, ndim, offsets)
        seg = torch.minimum(seg, dur[..., None]) if isinstance(dur, torch.Tensor) else seg.clamp_max(dur)
    return seg

