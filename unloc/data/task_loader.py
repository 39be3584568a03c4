"""Loaders of task datasets: per-epoch training batches for `unloc.train.fit`, and evaluation batches in order.

`train_batches(dataset, train_cfg)` is the `batches=` factory of `fit`: for each epoch it calls
`dataset.set_epoch(epoch)` (so crops, windows and the drawn caption change per epoch) and returns the trainer's own
sharded, seeded loader (`unloc.train.batches.make_loader`), so the data order stays a pure function of (seed, epoch)
and resuming mid-epoch skips the consumed steps; a video that cannot be read is replaced by the next readable item
and named, with the reason, in a warning the first time. `eval_batches` walks a dataset once in order and reports
every video that could not be read (DESIGN.md: nothing is dropped without being counted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from torch.utils.data import DataLoader

from unloc.data.frames import BadVideo
from unloc.data.task_batch import TaskBatch, collate_task
from unloc.data.task_data import TaskDataset
from unloc.train.batches import make_loader
from unloc.train.config import TrainConfig
from unloc.train.distributed import world_info

log = logging.getLogger(__name__)


def train_batches(dataset: TaskDataset, cfg: TrainConfig) -> Callable[..., Iterable[TaskBatch]]:
    """`epoch -> this rank's micro-batches of TaskBatch`, for `fit(..., batches=train_batches(ds, cfg))`.

    Steps per epoch are len(dataset) // global_batch_size (the last partial batch is dropped, as official).
    """

    reported: set[str] = set()

    def batches(epoch: int, start_step: int = 0) -> _ReportSkipped:
        dataset.set_epoch(epoch)
        info = world_info()
        return _ReportSkipped(make_loader(dataset, cfg, epoch=epoch, start_step=start_step, rank=info.rank,
                                          world_size=info.world_size, collate_fn=collate_task), reported)

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


__all__ = ["eval_batches", "train_batches"]
