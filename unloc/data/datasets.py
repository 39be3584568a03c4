"""Task datasets: sampled clips (decoded frames or cached features) joined with their annotations (paper §4.1).

A `TaskDataset` wraps a clip dataset (`unloc.data.clips`: `FrameDataset` or `FeatureDataset`, which decode or read,
transform, cut fps windows and turn unreadable videos into `BadVideo`) and a list of `Entry`s (what each item
annotates; `unloc.data.build` makes both from a `TaskDataConfig`). Each item is a `TaskItem` whose segments are
already in level-0 sampled-frame units of its own clip:

- linspace sampling of F frames: sec_per_unit = (N - 1) / ((F - 1) fps) with the video's real frame count N and
  frame rate as the decoder reports them (the feature cache stores the same N and fps, so both paths agree), t0 = 0;
  only when N < 2 or the rate is unknown, sec_per_unit = duration / (F - 1);
- fixed-rate windows: sec_per_unit = 1 / fps and t0 = window start / fps.

Moment-retrieval items carry tokenized captions and their windows in seconds; training items per video draw one
caption per epoch (official `train_max_num_captions=1`). Random draws depend only on (seed, epoch, index), whatever
the number of workers; `set_epoch` changes them per epoch. With `replace_bad` (training) an unreadable video is
replaced by the next readable item and reported in the item's `skipped`, so batches keep their size; otherwise
(evaluation) the `BadVideo` goes to the collate (`unloc.data.collate`), which drops it.

The loaders: `train_batches(dataset, train_cfg, seed=)` is the `batches=` factory of `fit`; for each epoch it calls
`dataset.set_epoch(epoch)` and returns the trainer's own sharded, seeded loader (`unloc.train.batches.make_loader`),
so the data order stays a pure function of (seed, epoch) and resuming mid-epoch skips the consumed steps; a replaced
video is named, with the reason, in a warning the first time. `eval_batches` walks a dataset once in order and
reports every video that could not be read (DESIGN.md: nothing is dropped without being counted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset

from unloc.data.clips import BadVideo, ClipDataset, item_generator
from unloc.data.collate import TaskBatch, TaskItem, collate_task
from unloc.data.records import Query
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.video import Clip
from unloc.ops.segments import linspace_sec_per_unit, sec_to_units
from unloc.train.batches import make_loader
from unloc.train.config import TrainConfig
from unloc.train.distributed import world_info

log = logging.getLogger(__name__)

_CAPTION_SALT = 0x5EED  # decorrelates the caption draw from the clip dataset's crop draw of the same item
Tokenizer = Callable[[list[str]], torch.Tensor]


@dataclass(frozen=True)
class Entry:
    """What one dataset item annotates.

    Attributes:
        clip_index: item of the clip dataset to read (a video, or one window of it).
        video_id: id in the annotation file.
        duration_sec: annotated duration (0 = unknown: the clip's own duration is used).
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

    @classmethod
    def unannotated(cls, clips: ClipDataset, class_names: Sequence[str] = ()) -> TaskDataset:
        """Every item of `clips` (each video, or each window) without annotations: what inference reads."""
        entries = [Entry(i, clips.video_ids[number], 0.0) for i, (number, _) in enumerate(clips.items)]
        return cls(clips, entries, class_names=class_names)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (crop, flip, window, caption) for a new epoch."""
        self.epoch = epoch
        self.clips.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> TaskItem | BadVideo:
        skipped: list[BadVideo] = []
        for attempt in range(len(self.entries)):
            i = (index + attempt) % len(self.entries)
            entry = self.entries[i]
            got = self.clips.item(entry.clip_index, self.epoch)
            if not isinstance(got, BadVideo):
                item = self._item(entry, got, i)
                item.skipped = skipped
                return item
            if not self.replace_bad:
                return got
            if not any(bad.path == got.path for bad in skipped):
                skipped.append(got)
        raise RuntimeError(f"no readable video among the {len(self.entries)} items; first failure: {skipped[0]}")

    def _item(self, entry: Entry, got: tuple[str, int, Clip], index: int) -> TaskItem:
        _, start, clip = got
        duration = entry.duration_sec if entry.duration_sec > 0 else clip.duration_sec
        spu, t0 = time_map(clip, start, self.clips.sampling, duration)
        item = TaskItem(video_id=entry.video_id, frames=clip.frames, mask=clip.mask,
                        timestamps_sec=clip.timestamps_sec, window_start=start, duration_sec=duration,
                        sec_per_unit=spu, t0_sec=t0, segments=torch.zeros(0, 2), labels=torch.zeros(0, dtype=torch.long))
        if entry.queries:
            self._add_captions(item, self._chosen(entry, index))
        elif entry.segments:
            seg = torch.tensor([(s, e) for s, e, _ in entry.segments], dtype=torch.float64)  # (s, 2) seconds
            item.segments = sec_to_units(seg, spu, t0).float()
            item.labels = torch.tensor([label for _, _, label in entry.segments], dtype=torch.long)
        return item

    def _chosen(self, entry: Entry, index: int) -> tuple[Query, ...]:
        if not entry.pick_one or len(entry.queries) == 1:
            return entry.queries
        generator = item_generator(self.seed ^ _CAPTION_SALT, self.epoch, index)
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


def train_batches(dataset: TaskDataset, cfg: TrainConfig, *, seed: int) -> Callable[..., Iterable[TaskBatch]]:
    """`epoch -> this rank's micro-batches of TaskBatch`, for `fit(..., seed=seed, batches=train_batches(ds, cfg,
    seed=seed))`; `seed` orders the data, as `fit` would order a dataset.

    Steps per epoch are len(dataset) // global_batch_size (the last partial batch is dropped, as official).
    """

    reported: set[str] = set()

    def batches(epoch: int, start_step: int = 0) -> _ReportSkipped:
        dataset.set_epoch(epoch)
        info = world_info()
        loader = make_loader(dataset, cfg, seed=seed, epoch=epoch, start_step=start_step, rank=info.rank,
                             world_size=info.world_size, collate_fn=collate_task)
        return _ReportSkipped(loader, reported)

    return batches


class _ReportSkipped:
    """A training loader that logs each video it had to replace (unreadable), once per run, naming it and why."""

    def __init__(self, loader: DataLoader, reported: set[str]):
        self.loader, self.reported = loader, reported

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[TaskBatch]:
        for batch in self.loader:
            for bad in batch.skipped:
                if bad.path not in self.reported:
                    self.reported.add(bad.path)
                    log.warning("training video %s could not be read and is replaced by the next readable item "
                                "(%d so far): %s", bad.path, len(self.reported), bad.reason)
            yield batch


def eval_batches(dataset: TaskDataset, batch_size: int = 1, num_workers: int = 0,
                 skipped: list[BadVideo] | None = None) -> Iterator[TaskBatch]:
    """Every item once, in dataset order; batches that lost all their videos are not yielded.

    Args:
        dataset: an evaluation dataset.
        batch_size: videos (or windows) per batch; 1 is the official test setting.
        num_workers: DataLoader workers.
        skipped: if given, unreadable videos are appended to it; they are also logged at the end.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_task)
    bad: list[BadVideo] = []
    for batch in loader:
        bad += batch.skipped
        if len(batch):
            yield batch
    if skipped is not None:
        skipped += bad
    if bad:
        log.warning("%d video(s) skipped as unreadable: %s", len(bad), "; ".join(f"{b.path}: {b.reason}" for b in bad))


__all__ = ["DataReport", "Entry", "TaskDataset", "eval_batches", "time_map", "train_batches"]
