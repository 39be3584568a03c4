"""Batching clips, and counting the videos that were skipped, for an epoch over a clip dataset (paper §4.1 inputs).

`ClipLoader` wraps a torch DataLoader around a `ClipDataset` (frames or cached features). Skipped videos come back from
the dataset as `BadVideo` items; `collate_clips` removes them from the batch but carries them along in
`ClipBatch.skipped`, so the main process can list every skipped file at the end of the epoch even when the decoding
ran in worker processes, which cannot share Python state.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler

from unloc.data.frames import BadVideo
from unloc.data.video import Clip

log = logging.getLogger(__name__)


@dataclass
class ClipBatch:
    """A collated batch.

    Attributes:
        video: (b, t, 3, h, w) frames (float normalised, or uint8 for `normalize_frames` on the device), or float
            (b, t, d) cached per-frame features.
        timestamps_sec: float64 (b, t).
        mask: bool (b, t), True = real frame.
        video_ids: b identifiers (file stems unless given).
        duration_sec: float64 (b,) length of each whole video.
        window_start: int64 (b,) offset of the clip in the video's sample stream (0 for linspace sampling).
        skipped: videos of this batch that were skipped as undecodable.
    """

    video: torch.Tensor
    timestamps_sec: torch.Tensor
    mask: torch.Tensor
    video_ids: list[str]
    duration_sec: torch.Tensor
    window_start: torch.Tensor
    skipped: list[BadVideo] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.video_ids)

    def to(self, device: str | torch.device, non_blocking: bool = False) -> ClipBatch:
        """The batch with its tensors on `device`."""
        return self._map(lambda tensor: tensor.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> ClipBatch:
        """The batch in page-locked memory (what `DataLoader(pin_memory=True)` calls for custom batch types)."""
        return self._map(torch.Tensor.pin_memory)

    def _map(self, move) -> ClipBatch:
        names = ("video", "timestamps_sec", "mask", "duration_sec", "window_start")
        return dataclasses.replace(self, **{name: move(getattr(self, name)) for name in names})


class SkipReport:
    """Collects the videos skipped during an epoch (in the main process, from the batches)."""

    def __init__(self):
        self.skipped: list[BadVideo] = []

    def add(self, batch: ClipBatch) -> None:
        self.skipped.extend(batch.skipped)

    @property
    def paths(self) -> list[str]:
        return [bad.path for bad in self.skipped]

    def __len__(self) -> int:
        return len(self.skipped)

    def summary(self) -> str:
        lines = [f"{len(self.skipped)} video(s) skipped as undecodable"]
        lines += [f"  {bad.path}: {bad.reason}" for bad in self.skipped]
        return "\n".join(lines)


def collate_clips(items: list[tuple[str, int, Clip] | BadVideo]) -> ClipBatch:
    """Stack `(video_id, window_start, Clip)` items into a `ClipBatch`; `BadVideo` items go to `batch.skipped`.

    Clips of one batch must have the same number of frames (true for both samplers). An all-bad batch gives b = 0.
    """
    skipped = [item for item in items if isinstance(item, BadVideo)]
    good = [item for item in items if not isinstance(item, BadVideo)]
    if not good:
        empty = torch.zeros(0)
        return ClipBatch(empty, empty.double(), empty.bool(), [], empty.double(), empty.long(), skipped)
    clips = [clip for _, _, clip in good]
    return ClipBatch(
        video=torch.stack([c.frames for c in clips]),  # (b, t, 3, h, w) or (b, t, d)
        timestamps_sec=torch.stack([c.timestamps_sec for c in clips]),
        mask=torch.stack([c.mask for c in clips]),
        video_ids=[video_id for video_id, _, _ in good],
        duration_sec=torch.tensor([c.duration_sec for c in clips], dtype=torch.float64),
        window_start=torch.tensor([start for _, start, _ in good], dtype=torch.int64),
        skipped=skipped,
    )


class ClipLoader:
    """A DataLoader over a clip dataset that collects skipped videos and reports them at the end of each epoch.

    Iterating yields non-empty `ClipBatch`es; afterwards `report` holds that epoch's `SkipReport` (also logged as a
    warning listing the files). Works with any `num_workers`, since skips travel inside the batches. The sampler
    hands the dataset `(epoch, index)` keys, so random draws change per epoch even with `persistent_workers=True`.

    Args:
        dataset: a `ClipDataset` (items `(video_id, window_start, Clip)` or `BadVideo`).
        batch_size, shuffle, num_workers: as for `torch.utils.data.DataLoader`.
        seed: seed of the shuffling order (epoch e uses seed + e).
        sampler: an index sampler to use instead of `shuffle` (e.g. `DistributedSampler`; its `set_epoch` is called).
        **loader_kwargs: passed on to the DataLoader (pin_memory, persistent_workers, prefetch_factor ...).
    """

    def __init__(self, dataset: Dataset, *, batch_size: int, shuffle: bool = False, num_workers: int = 0,
                 seed: int = 0, sampler: Sampler | None = None, **loader_kwargs):
        self.dataset, self.seed, self.epoch = dataset, seed, 0
        self._generator = torch.Generator()
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self._generator) if shuffle else SequentialSampler(dataset)
        self.order = sampler
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=_EpochKeys(sampler, self),
                                 num_workers=num_workers, collate_fn=collate_clips, **loader_kwargs)
        self.report = SkipReport()

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffling order and random draws of `epoch` in the next iteration."""
        self.epoch = epoch
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[ClipBatch]:
        self.report = SkipReport()
        self._generator.manual_seed(self.seed + self.epoch)
        for batch in self.loader:
            self.report.add(batch)
            if len(batch):
                yield batch
        if len(self.report):
            log.warning(self.report.summary())


class _EpochKeys(Sampler):
    """Wraps an index sampler to yield `(epoch, index)` with the owning loader's current epoch."""

    def __init__(self, order: Sampler, owner: ClipLoader):
        self.order, self.owner = order, owner

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.owner.epoch
        return ((epoch, int(index)) for index in self.order)

    def __len__(self) -> int:
        return len(self.order)
