"""Long videos for localization and retrieval: overlapping windows, per-window candidates, one Soft-NMS over all.

UnLoc samples F frames evenly over a whole video (paper §4.1), so one frame token of a video ten times longer than the
training videos spans ten times more time. `unloc localize` therefore cuts a long video into windows of `window_sec`
seconds that overlap by a fraction (25% by default, so a moment cut by one border lies whole inside the next window)
and samples each window like a training video: F frames at floor(linspace) over the window's own frames, with the
window-local time map sec_per_unit = (N_w - 1) / ((F - 1) fps) of its N_w frames (`unloc.ops.segments`). Frame k of
the video is at k / fps, the convention of the evaluation datasets, so a video that fits in one window is sampled,
decoded and suppressed exactly as `unloc.tasks` evaluates it. Each window yields its *pre-NMS* candidates in
window-local seconds (decoded by the tasks' own `decode_outputs`, prompts averaged as `prompt_mode` says);
`merge_windows` shifts them by the window start, clips them to the video and runs the task's Soft-NMS once over the
candidates of all windows (running it per window and again on the union would decay the scores twice).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from einops import rearrange
from torch import nn

from unloc.data.collate import TaskBatch, TaskItem, collate_task
from unloc.data.sampling import linspace_indices
from unloc.data.transforms import FrameTransform
from unloc.data.video import VideoFile
from unloc.ops.nms import NmsResult
from unloc.ops.segments import linspace_sec_per_unit
from unloc.tasks.base import decode_outputs, run_nms
from unloc.tasks.config import NmsConfig
from unloc.tasks.temporal_localization import TemporalLocalization
from unloc.train.batches import move_to_device

DEFAULT_OVERLAP = 0.25


class Candidates(NamedTuple):
    """Scored segments of one window before NMS, in rows that are suppressed separately (MR: one row per query;
    TAL: one row, class-agnostic or per class as `NmsConfig.per_class` says)."""

    segments: torch.Tensor  # (r, n, 2) seconds
    scores: torch.Tensor  # (r, n) probabilities
    labels: torch.Tensor  # (r, n) long: class index (TAL) or 0 (MR)
    mask: torch.Tensor  # (r, n) bool, True = a real candidate


def window_spans(duration_sec: float, window_sec: float, overlap: float = DEFAULT_OVERLAP) -> list[tuple[float, float]]:
    """Windows of `window_sec` covering [0, duration_sec], consecutive ones overlapping by at least `overlap`.

    A video no longer than one window is one window, the whole video. Otherwise n = ceil((D - W) / (W (1 - overlap)))
    + 1 windows of exactly W seconds start evenly between 0 and D - W, so the last one ends at D.

    Args:
        duration_sec: D, the video's duration.
        window_sec: W > 0 (math.inf = never split).
        overlap: fraction of a window shared with the next one, in [0, 1).

    Returns:
        (start_sec, end_sec) of each window, in time order.
    """
    if not window_sec > 0 or not 0 <= overlap < 1:
        raise ValueError(f"need window_sec > 0 and 0 <= overlap < 1, got {window_sec} and {overlap}")
    if duration_sec <= window_sec:
        return [(0.0, float(duration_sec))]
    count = math.ceil((duration_sec - window_sec) / (window_sec * (1 - overlap)) - 1e-9) + 1
    starts = np.linspace(0.0, duration_sec - window_sec, count)
    return [(float(s), float(s) + window_sec) for s in starts]


def read_window(video: VideoFile, span: tuple[float, float], num_frames: int,
                transform: FrameTransform) -> tuple[float, TaskItem]:
    """F frames at floor(linspace) over the frames shown in `span`, as a window-local evaluation item.

    Frame k is at k / fps; the window holds frames ceil(start * fps) .. ceil(end * fps) - 1.

    Args:
        video: the opened video.
        span: (start_sec, end_sec) of the window.
        num_frames: F, frames sampled per window (the run's `sampling.num_frames`).
        transform: the test transform (centre crop + CLIP normalisation).

    Returns:
        (t0_sec, item): the time of the window's first frame, and a `TaskItem` with frames (F, 3, s, s) whose time map
        starts at 0 (t0_sec = 0) and whose duration is the window's N_w / fps.
    """
    fps = video.fps
    first = min(max(math.ceil(span[0] * fps - 1e-6), 0), video.num_frames - 1)
    last = min(max(math.ceil(span[1] * fps - 1e-6) - 1, first), video.num_frames - 1)
    count = last - first + 1
    clip = video.clip(first + linspace_indices(count, num_frames))
    t0_sec, local_sec = first / fps, count / fps
    spu = linspace_sec_per_unit(count, fps, num_frames) if count >= 2 else local_sec / (num_frames - 1)
    item = TaskItem(video_id=f"{t0_sec:.3f}", frames=transform(clip.frames), mask=clip.mask,
                    timestamps_sec=clip.timestamps_sec - t0_sec, window_start=0, duration_sec=local_sec,
                    sec_per_unit=spu, t0_sec=0.0, segments=torch.zeros(0, 2), labels=torch.zeros(0, dtype=torch.long))
    return t0_sec, item


def window_batches(video: VideoFile, spans: Sequence[tuple[float, float]], num_frames: int,
                   transform: FrameTransform, batch_size: int) -> Iterator[tuple[list[float], TaskBatch]]:
    """`TaskBatch`es of up to `batch_size` windows, with the t0_sec of each (decoded lazily, one batch at a time)."""
    for lo in range(0, len(spans), batch_size):
        read = [read_window(video, span, num_frames, transform) for span in spans[lo:lo + batch_size]]
        yield [t0 for t0, _ in read], collate_task([item for _, item in read])


def tal_candidates(task: TemporalLocalization, model: nn.Module, batch: TaskBatch) -> list[Candidates]:
    """One row per window: every (class, position) cell above the NMS score threshold, as the TAL evaluation keeps."""
    probs, segments, valid = task.scores(model, batch)  # (b, q, T), (b, q, T, 2), (b, T)
    b, q, t = probs.shape
    keep = valid[:, None, :] & (probs >= task.cfg.nms.score_threshold)
    labels = torch.arange(q, device=probs.device)[None, :, None].expand(b, q, t)
    flat = [rearrange(segments, "b q t two -> b 1 (q t) two"), rearrange(probs, "b q t -> b 1 (q t)"),
            rearrange(labels, "b q t -> b 1 (q t)"), rearrange(keep, "b q t -> b 1 (q t)")]
    return [Candidates(*(x[i] for x in flat)) for i in range(b)]


def mr_candidates(model: nn.Module, batch: TaskBatch, text: torch.Tensor) -> list[Candidates]:
    """One row per query and window: every valid position of every query (the MR evaluation's NMS input).

    Args:
        model: UnLoc.
        batch: b windows.
        text: (c, n) token ids of the queries, on the model's device.
    """
    outputs = model(batch.video, text, batch.video_mask)  # logits (b, c, t_l)
    probs, segments, valid = decode_outputs(outputs, batch.sec_per_unit, batch.t0_sec, batch.duration_sec)
    c = text.shape[0]
    return [Candidates(segments[i], probs[i], torch.zeros_like(probs[i], dtype=torch.long), valid[i].expand(c, -1))
            for i in range(len(batch))]


def shift_candidates(candidates: Candidates, t0_sec: float, duration_sec: float) -> Candidates:
    """Window-local seconds -> video seconds: add the window start and clip to [0, duration_sec]."""
    segments = (candidates.segments + t0_sec).clamp(0.0, duration_sec)
    return candidates._replace(segments=segments)


def merge_windows(windows: Sequence[tuple[float, Candidates]], nms: NmsConfig, duration_sec: float) -> NmsResult:
    """Candidates of every window in video time, suppressed together.

    Args:
        windows: (t0_sec, candidates) per window; every window has the same rows r.
        nms: the task's Soft-NMS settings (its `top_k` is the number kept per row).
        duration_sec: the video's duration.

    Returns:
        `NmsResult` with (r, top_k) fields, best first per row.
    """
    if not windows:
        raise ValueError("merge_windows needs at least one window")
    shifted = [shift_candidates(c, t0, duration_sec) for t0, c in windows]
    joined = Candidates(*(torch.cat(parts, dim=1) for parts in zip(*shifted)))  # rows (r, sum n)
    return run_nms(joined.segments, joined.scores, joined.mask, nms, labels=joined.labels)


def windowed_predictions(video: VideoFile, spans: Sequence[tuple[float, float]], num_frames: int,
                         transform: FrameTransform, score: Callable[[TaskBatch], list[Candidates]], nms: NmsConfig,
                         device: torch.device, batch_size: int = 2) -> NmsResult:
    """Score every window with `score` (`tal_candidates` / `mr_candidates` bound to a model) and merge them.

    Args:
        video: the opened video; spans: its windows (`window_spans`).
        num_frames: F per window; transform: the test transform.
        score: a moved `TaskBatch` of b windows -> b `Candidates` in window-local seconds.
        nms: Soft-NMS settings of the final merge.
        device: where the model runs.
        batch_size: windows per forward pass.
    """
    per_window: list[tuple[float, Candidates]] = []
    with torch.no_grad():
        for t0s, batch in window_batches(video, spans, num_frames, transform, batch_size):
            found = score(move_to_device(batch, device))
            per_window += [(t0, Candidates(*(x.cpu() for x in c))) for t0, c in zip(t0s, found)]
    return merge_windows(per_window, nms, video.duration_sec)


__all__ = ["DEFAULT_OVERLAP", "Candidates", "merge_windows", "mr_candidates", "read_window", "shift_candidates",
           "tal_candidates", "window_batches", "window_spans", "windowed_predictions"]
