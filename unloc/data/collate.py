"""The batch every UnLoc task consumes (`TaskBatch`), the per-video item it is built from, and the collate.

Times are handled once, here and in `unloc.ops.segments`: each video carries its own (sec_per_unit, t0_sec), so
level-0 sampled-frame unit u of video i is at u * sec_per_unit[i] + t0_sec[i] seconds, for linspace sampling
(t0 = 0) and fixed-rate windows (t0 = window start) alike. Segments arrive in those units; moment-retrieval windows
stay in seconds, because a caption is compared with every video of the (global) batch and each video has its own
unit. Masks are True = valid everywhere (paper §3; DESIGN.md conventions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unloc.data.clips import BadVideo


@dataclass
class TaskItem:
    """One dataset item: a sampled clip of one video with its annotations (see `TaskBatch` for the meanings).

    Shapes: frames (t, 3, h, w) or (t, d); mask, timestamps_sec (t,); segments (s, 2); labels (s,); text (c, n);
    windows_sec (c, m, 2); windows_mask (c, m). `labels` of a moment-retrieval item index its own captions.
    """

    video_id: str
    frames: torch.Tensor
    mask: torch.Tensor
    timestamps_sec: torch.Tensor
    window_start: int
    duration_sec: float
    sec_per_unit: float
    t0_sec: float
    segments: torch.Tensor
    labels: torch.Tensor
    text: torch.Tensor | None = None
    query_ids: list[int] = field(default_factory=list)
    windows_sec: torch.Tensor | None = None
    windows_mask: torch.Tensor | None = None
    skipped: list[BadVideo] = field(default_factory=list)


@dataclass
class TaskBatch:
    """A collated batch of b videos (and, for moment retrieval, q captions).

    Attributes:
        video: float (b, t, 3, h, w) frames normalised for the image tower, or (b, t, d) cached image-tower features.
        video_mask: bool (b, t), True = a real frame (False = padding at the end of a last window).
        video_ids: b video ids as in the annotation file.
        duration_sec: float64 (b,) annotated duration of each whole video (predictions are clipped to it).
        sec_per_unit: float64 (b,) seconds per level-0 sampled-frame unit: (N - 1) / ((F - 1) fps) for F linspace
            frames of a video with N frames at fps (the decoder's N and fps, also kept by the feature cache);
            1 / sample_fps for fixed-rate windows.
        t0_sec: float64 (b,) time of unit 0 (the window start; 0 for linspace sampling).
        timestamps_sec: float64 (b, t) presentation time of every sampled frame (padding continues the grid).
        window_start: int64 (b,) offset of the clip in the video's fixed-rate sample stream (0 for linspace).
        segments: float32 (b, s, 2) ground-truth (start, end) in level-0 units (may reach outside [0, t - 1]).
        labels: int64 (b, s) class index of each segment (TAL, segmentation, pretraining: index into the task's
            class list) or, for moment retrieval, the index of the owning caption in `text`; -1 = padding.
        text: int64 (q, n) caption token ids (moment retrieval); None for class tasks, whose prompts the task owns.
        text_video_idx: int64 (q,) row of `video` each caption belongs to; None without captions.
        query_ids: q query ids (the benchmark's evaluation ids).
        windows_sec: float64 (q, m, 2) ground-truth windows of each caption in seconds; None without captions.
        windows_mask: bool (q, m), True = a real window.
        skipped: videos that could not be read (reported, not trained on); training datasets replace them by the
            next readable item, evaluation batches simply hold fewer videos.
    """

    video: torch.Tensor
    video_mask: torch.Tensor
    video_ids: list[str]
    duration_sec: torch.Tensor
    sec_per_unit: torch.Tensor
    t0_sec: torch.Tensor
    timestamps_sec: torch.Tensor
    window_start: torch.Tensor
    segments: torch.Tensor
    labels: torch.Tensor
    text: torch.Tensor | None = None
    text_video_idx: torch.Tensor | None = None
    query_ids: list[int] = field(default_factory=list)
    windows_sec: torch.Tensor | None = None
    windows_mask: torch.Tensor | None = None
    skipped: list[BadVideo] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.video_ids)

    @property
    def num_frames(self) -> int:
        """t, the number of level-0 frame tokens."""
        return int(self.video.shape[1])


def _pad_stack(rows: list[torch.Tensor], fill: float, dtype: torch.dtype) -> torch.Tensor:
    """Stack (s_i, ...) tensors into (n, max s_i, ...), padding with `fill`."""
    longest = max((r.shape[0] for r in rows), default=0)
    tail = rows[0].shape[1:] if rows else ()
    out = torch.full((len(rows), longest, *tail), fill, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row
    return out


def _captions(items: list[TaskItem]) -> dict:
    """Concatenate the items' captions; returns the TaskBatch caption fields and each item's caption offset."""
    with_text = [item.text is not None for item in items]
    if not any(with_text):
        return {"offsets": [0] * len(items)}
    if not all(with_text):
        raise ValueError("a batch mixes items with and without captions")
    counts = [item.text.shape[0] for item in items]
    offsets = torch.tensor([0] + counts).cumsum(0)[:-1].tolist()
    windows = [w for item in items for w in item.windows_sec]  # each (m_j, 2)
    masks = [m for item in items for m in item.windows_mask]
    return {
        "offsets": offsets,
        "text": torch.cat([item.text for item in items]),  # (q, n)
        "text_video_idx": torch.repeat_interleave(torch.arange(len(items)), torch.tensor(counts)),
        "query_ids": [qid for item in items for qid in item.query_ids],
        "windows_sec": _pad_stack(windows, 0.0, torch.float64),  # (q, m, 2)
        "windows_mask": _pad_stack(masks, False, torch.bool),  # (q, m)
    }


def collate_task(items: list[TaskItem | BadVideo]) -> TaskBatch:
    """Stack items into a `TaskBatch`; `BadVideo` entries (evaluation) go to `skipped`.

    Clips of one batch must have the same number of frames (true for both samplings). Segments are padded to the
    longest item with label -1; caption labels are shifted to index the batch's concatenated captions.
    """
    skipped = [item for item in items if isinstance(item, BadVideo)]
    good = [item for item in items if not isinstance(item, BadVideo)]
    skipped += [bad for item in good for bad in item.skipped]
    if not good:
        empty = torch.zeros(0)
        return TaskBatch(empty, empty.bool(), [], empty.double(), empty.double(), empty.double(), empty.double(),
                         empty.long(), torch.zeros(0, 0, 2), torch.zeros(0, 0, dtype=torch.long), skipped=skipped)
    text = _captions(good)
    offsets = text.pop("offsets")
    labels = [torch.where(item.labels >= 0, item.labels + off, -1) for item, off in zip(good, offsets)]

    def column(name: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([getattr(item, name) for item in good], dtype=dtype)

    return TaskBatch(
        video=torch.stack([item.frames for item in good]),  # (b, t, 3, h, w) or (b, t, d)
        video_mask=torch.stack([item.mask for item in good]),
        video_ids=[item.video_id for item in good],
        duration_sec=column("duration_sec", torch.float64),
        sec_per_unit=column("sec_per_unit", torch.float64),
        t0_sec=column("t0_sec", torch.float64),
        timestamps_sec=torch.stack([item.timestamps_sec for item in good]).double(),
        window_start=column("window_start", torch.int64),
        segments=_pad_stack([item.segments for item in good], 0.0, torch.float32),  # (b, s, 2)
        labels=_pad_stack(labels, -1, torch.int64),  # (b, s)
        skipped=skipped,
        **text,
    )


__all__ = ["TaskBatch", "TaskItem", "collate_task"]
