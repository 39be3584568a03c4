"""Where the trainer's batches come from: a map-style dataset it loads itself, or a per-epoch batch factory.

With a dataset, the trainer builds one DataLoader per epoch over an `EpochShardSampler`, so the order is a pure
function of (seed, epoch) and resuming mid-epoch skips the consumed steps without loading them; the loader's worker
seeds come from a generator seeded by (seed, epoch), never from the global torch generator. With a factory
`batches(epoch)`, the caller owns order and sharding: it must yield this rank's micro-batches, the same number on every
rank, in an order that depends only on the epoch; resuming mid-epoch then iterates past the consumed micro-batches
(or passes `start_step=` to a factory that accepts it).
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from unloc.train.config import TrainConfig
from unloc.train.sampler import EpochShardSampler


def make_loader(
    dataset: Dataset, cfg: TrainConfig, *, seed: int, epoch: int, start_step: int = 0, rank: int = 0,
    world_size: int = 1, collate_fn: Callable | None = None, pin_memory: bool = False,
) -> DataLoader:
    """The DataLoader of one epoch for this rank: micro-batches of `cfg.micro_batch_size`, from `start_step` on.

    Args:
        dataset: a map-style dataset (`__len__`, `__getitem__`).
        cfg: global_batch_size, grad_accum_steps, num_workers.
        seed: the run's seed (with the epoch, it picks the order and the workers' seeds).
        epoch: 0-based epoch (picks the order).
        start_step: updates of the epoch already done.
        rank: this process's rank.
        world_size: number of processes.
        collate_fn: list of samples -> batch.
        pin_memory: pin host memory (CUDA training).

    Returns:
        A DataLoader yielding `(steps_per_epoch - start_step) * grad_accum_steps` micro-batches.
    """
    sampler = EpochShardSampler(
        len(dataset), global_batch_size=cfg.global_batch_size, seed=seed, rank=rank, world_size=world_size,
        grad_accum_steps=cfg.grad_accum_steps,
    )
    sampler.set_epoch(epoch)
    sampler.set_start_step(start_step)
    workers_seed = torch.Generator()
    workers_seed.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0] >> 1))
    return DataLoader(
        dataset, batch_size=cfg.micro_batch_size, sampler=sampler, num_workers=cfg.num_workers,
        collate_fn=collate_fn, pin_memory=pin_memory, drop_last=False, generator=workers_seed,
    )


class StepSource:
    """Per epoch, an iterator over updates, each the list of this rank's `grad_accum_steps` micro-batches.

    Give exactly one of `dataset` (with `collate_fn`) or `batches`.

    Args:
        cfg: the training config.
        seed: the run's seed (orders `dataset`).
        rank: this process's rank.
        world_size: number of processes.
        dataset: map-style dataset; the trainer shards and orders it.
        collate_fn: list of samples -> batch, for `dataset`.
        batches: `epoch -> iterable of micro-batches` for this rank (optionally with a `start_step` keyword).
        steps_per_epoch: updates per epoch for `batches`; default len(batches(0)) // grad_accum_steps.
        pin_memory: pin host memory of loaded batches.
    """

    def __init__(
        self, cfg: TrainConfig, *, seed: int, rank: int, world_size: int, dataset: Dataset | None = None,
        collate_fn: Callable | None = None, batches: Callable[..., Iterable] | None = None,
        steps_per_epoch: int | None = None, pin_memory: bool = False,
    ) -> None:
        if (dataset is None) == (batches is None):
            raise ValueError("give fit exactly one of dataset= or batches=")
        self.cfg, self.seed, self.rank, self.world_size = cfg, seed, rank, world_size
        self.dataset, self.collate_fn, self.batches, self.pin_memory = dataset, collate_fn, batches, pin_memory
        if dataset is not None:
            if steps_per_epoch is not None:
                raise ValueError("steps_per_epoch is derived from the dataset (len // global_batch_size)")
            steps_per_epoch = len(dataset) // cfg.global_batch_size
            if steps_per_epoch == 0:
                raise ValueError(f"{len(dataset)} training samples cannot fill one global batch of "
                                 f"{cfg.global_batch_size}")
        elif steps_per_epoch is None:
            try:
                steps_per_epoch = len(batches(0)) // cfg.grad_accum_steps
            except TypeError as err:
                raise ValueError("batches(epoch) has no len(): pass steps_per_epoch to fit") from err
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.steps_per_epoch = steps_per_epoch
        self._takes_start = batches is not None and "start_step" in inspect.signature(batches).parameters

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[list[Any]]:
        """This rank's updates of `epoch` from `start_step` on, as lists of micro-batches."""
        if self.dataset is not None:
            micro: Iterable = make_loader(
                self.dataset, self.cfg, seed=self.seed, epoch=epoch, start_step=start_step, rank=self.rank,
                world_size=self.world_size, collate_fn=self.collate_fn, pin_memory=self.pin_memory,
            )
        elif self._takes_start:
            micro = self.batches(epoch, start_step=start_step)
        else:
            micro = itertools.islice(self.batches(epoch), start_step * self.cfg.grad_accum_steps, None)
        return self._group(iter(micro), self.steps_per_epoch - start_step, epoch)

    def _group(self, micro: Iterator, steps: int, epoch: int) -> Iterator[list[Any]]:
        accum = self.cfg.grad_accum_steps
        for done in range(steps):
            group = list(itertools.islice(micro, accum))
            if len(group) < accum:
                warnings.warn(f"epoch {epoch} ran out of batches after {done} of {steps} remaining updates"
                              + (f" ({len(group)} micro-batches of an incomplete update dropped)" if group else ""))
                return
            yield group


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside dicts, lists, tuples, named tuples and dataclasses to `device`.

    Args:
        batch: the collated batch; objects with a `.to(device)` method are moved with it, other leaves kept.
        device: the target.

    Returns:
        The same structure on `device` (non-blocking copies when pinned).
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return type(batch)((k, move_to_device(v, device)) for k, v in batch.items())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to_device(getattr(batch, f.name), device) for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    if hasattr(batch, "to") and callable(batch.to):
        return batch.to(device)
    return batch
