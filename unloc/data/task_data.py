"""Task datasets: sampled clips (decoded frames or cached features) joined with their annotations (paper §4.1).

A `TaskDataset` wraps a clip dataset (`FrameDataset` or `FeatureDataset`, which decode or read, transform, cut fps
windows and turn unreadable videos into `BadVideo`) and a list of `Entry`s (what each item annotates). Each item is a
`TaskItem` whose segments are already in level-0 sampled-frame units of its own clip:

- linspace sampling of F frames: sec_per_unit = (N - 1) / ((F - 1) fps) with the video's real frame count N and
  frame rate as the decoder reports them (the feature cache stores the same N and fps, so both paths agree), t0 = 0;
  only when N < 2 or the rate is unknown, sec_per_unit = duration / (F - 1);
- fixed-rate windows: sec_per_unit = 1 / fps and t0 = window start / fps.

Moment-retrieval items carry tokenized captions and their windows in seconds; training items per video draw one
caption per epoch (official `train_max_num_captions=1`). Random draws depend only on (seed, epoch, index), whatever
the number of workers; `set_epoch` (done by `unloc.data.task_loader.train_batches`) changes them per epoch. With
`replace_bad` (training) an unreadable video is replaced by the next readable item and reported in the item's
`skipped`, so batches keep their size; otherwise (evaluation) the `BadVideo` goes to the collate, which drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from unloc.data.frames import BadVideo, ClipDataset, FpsSampling, LinspaceSampling, item_generator
from unloc.data.records import Query
from unloc.data.task_batch import TaskItem
from unloc.data.video import Clip
from unloc.ops.segments import linspace_sec_per_unit, sec_to_units

log = logging.getLogger(__name__)
_CAPTION_SALT = 0x5EED  # decorrelates the caption draw from the clip dataset's crop draw of the same item
Tokenizer = Callable[[list[str]], torch.Tensor]


@dataclass(frozen=True)
class Entry:
    """What one dataset item annotates.

    Attributes:
        clip_index: item of the clip dataset to read (a video, or one window of it).
        video_id: id in the annotation file.
        duration_sec: annotated duration.
        segments: class segments (start_sec, end_sec, class index in the task's class list).
        queries: moment-retrieval captions of the item (all of the video's, or one).
        pick_one: draw one of `queries` per epoch (moment-retrieval training per video).
    """

    clip_index: int
    video_id: str
    duration_sec: float
    segments: tuple[tuple[float, float, int], ...] = ()
    queries: tuple[Query, ...] = ()
    pick_one: bool = False


@dataclass
class DataReport:
    """What was left out while building a dataset: counts per reason and the first few examples."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + count
        listed = self.examples.setdefault(reason, [])
        if len(listed) < 5:
            listed.append(example)

    def summary(self) -> str:
        if not self.counts:
            return "nothing left out"
        return "; ".join(f"{reason}: {n} (e.g. {', '.join(self.examples[reason])})"
                         for reason, n in sorted(self.counts.items()))


def time_map(clip: Clip, window_start: int, sampling: LinspaceSampling | FpsSampling,
             duration_sec: float) -> tuple[float, float]:
    """(sec_per_unit, t0_sec) of a clip (see the module docstring for the convention)."""
    if isinstance(sampling, LinspaceSampling):
        if clip.num_frames >= 2 and clip.fps > 0:
            return linspace_sec_per_unit(clip.num_frames, clip.fps, sampling.num_frames), 0.0
        return max(duration_sec, clip.duration_sec) / (sampling.num_frames - 1), 0.0
    return 1.0 / sampling.fps, window_start / sampling.fps


class TaskDataset(Dataset):
    """Items `TaskItem` (or `BadVideo` without `replace_bad`) for one task.

    Args:
        clips: the clip dataset (its items are addressed by `Entry.clip_index`).
        entries: one per dataset item.
        class_names: the task's classes (labels index them); empty for moment retrieval.
        tokenizer: texts -> token ids (c, n), for captions (moment retrieval).
        replace_bad: replace an unreadable video by the next readable item (training).
        seed: base seed of the caption draw.
        report: what the builder left out (kept for the caller).
    """

    def __init__(self, clips: ClipDataset, entries: Sequence[Entry], *, class_names: Sequence[str] = (),
                 tokenizer: Tokenizer | None = None, replace_bad: bool = False, seed: int = 0,
                 report: DataReport | None = None) -> None:
        if any(e.queries for e in entries) and tokenizer is None:
            raise ValueError("moment-retrieval items need a tokenizer")
        if not entries:
            raise ValueError(f"the dataset has no items; left out: {(report or DataReport()).summary()}")
        self.clips, self.entries = clips, list(entries)
        self.class_names, self.tokenizer = list(class_names), tokenizer
        self.replace_bad, self.seed, self.epoch = replace_bad, seed, 0
        self.report = report or DataReport()

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (crop, flip, window, caption) for a new epoch."""
        self.epoch = epoch
        self.clips.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: int | tuple[int, int]) -> TaskItem | BadVideo:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        skipped: list[BadVideo] = []
        for attempt in range(len(self.entries)):
            i = (index + attempt) % len(self.entries)
            entry = self.entries[i]
            got = self.clips[(epoch, entry.clip_index)]
            if not isinstance(got, BadVideo):
                item = self._item(entry, got, epoch, i)
                item.skipped = skipped
                return item
            if not self.replace_bad:
                return got
            if not any(bad.path == got.path for bad in skipped):
                skipped.append(got)
        raise RuntimeError(f"no readable video among the {len(self.entries)} items; first failure: {skipped[0]}")

    def _item(self, entry: Entry, got: tuple[str, int, Clip], epoch: int, index: int) -> TaskItem:
        _, start, clip = got
        duration = entry.duration_sec if entry.duration_sec > 0 else clip.duration_sec
        spu, t0 = time_map(clip, start, self.clips.sampling, duration)
        item = TaskItem(video_id=entry.video_id, frames=clip.frames, mask=clip.mask,
                        timestamps_sec=clip.timestamps_sec, window_start=start, duration_sec=duration,
                        sec_per_unit=spu, t0_sec=t0, segments=torch.zeros(0, 2), labels=torch.zeros(0, dtype=torch.long))
        if entry.queries:
            self._add_captions(item, self._chosen(entry, epoch, index))
        elif entry.segments:
            seg = torch.tensor([(s, e) for s, e, _ in entry.segments], dtype=torch.float64)  # (s, 2) seconds
            item.segments = sec_to_units(seg, spu, t0).float()
            item.labels = torch.tensor([label for _, _, label in entry.segments], dtype=torch.long)
        return item

    def _chosen(self, entry: Entry, epoch: int, index: int) -> tuple[Query, ...]:
        if not entry.pick_one or len(entry.queries) == 1:
            return entry.queries
        generator = item_generator(self.seed ^ _CAPTION_SALT, epoch, index)
        return (entry.queries[int(torch.randint(len(entry.queries), (1,), generator=generator))],)

    def _add_captions(self, item: TaskItem, queries: tuple[Query, ...]) -> None:
        """Token ids, windows (seconds) and, in units, the windows as segments labelled by caption index."""
        item.text = self.tokenizer([q.text for q in queries])  # (c, n)
        item.query_ids = [q.query_id for q in queries]
        longest = max(max(len(q.windows) for q in queries), 1)
        windows = torch.zeros(len(queries), longest, 2, dtype=torch.float64)  # (c, m, 2)
        mask = torch.zeros(len(queries), longest, dtype=torch.bool)
        for j, query in enumerate(queries):
            if query.windows:
                windows[j, : len(query.windows)] = torch.tensor(query.windows, dtype=torch.float64)
                mask[j, : len(query.windows)] = True
        item.windows_sec, item.windows_mask = windows, mask
        item.segments = sec_to_units(windows[mask], item.sec_per_unit, item.t0_sec).float()  # (s, 2)
        item.labels = torch.nonzero(mask)[:, 0]  # caption index of each window


__all__ = ["DataReport", "Entry", "TaskDataset", "time_map"]
