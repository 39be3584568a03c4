"""Data order as a pure function of (seed, epoch), sharded so that N processes see one process's global batches.

Each epoch draws one permutation of the training set from (seed, epoch) and cuts it into global batches of
`global_batch_size`; the last partial batch is dropped, as the official configs do (steps per epoch = size // 64,
reference/unloc-official.md section 4). Every global batch is split into world_size x grad_accum_steps equal chunks:
rank r takes chunk m * world_size + r at micro-step m. Because the order depends on nothing but (seed, epoch, step),
a resumed run simply starts the sampler at the step where the checkpoint was written.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def epoch_order(num_samples: int, seed: int, epoch: int, *, shuffle: bool = True) -> np.ndarray:
    """The permutation of `range(num_samples)` used in `epoch`.

    Args:
        num_samples: dataset size.
        seed: the run's seed.
        epoch: 0-based epoch index.
        shuffle: False keeps the dataset order.

    Returns:
        (num_samples,) int64 indices.
    """
    if not shuffle:
        return np.arange(num_samples, dtype=np.int64)
    return np.random.default_rng([seed, epoch]).permutation(num_samples).astype(np.int64)


class EpochShardSampler(Sampler[int]):
    """This rank's sample indices for one epoch, micro-batch after micro-batch, from a given step on.

    Feed it to a DataLoader with `batch_size = global_batch_size // (world_size * grad_accum_steps)`: consecutive
    batches are then micro-steps 0..A-1 of step s, then of step s+1, and so on.

    Args:
        num_samples: dataset size.
        global_batch_size: samples per update over all ranks and micro-steps.
        seed: the run's seed.
        rank: this process's rank.
        world_size: number of processes.
        grad_accum_steps: micro-steps per update.
        shuffle: draw a permutation per epoch (training) or keep the dataset order.
    """

    def __init__(
        self, num_samples: int, *, global_batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
        grad_accum_steps: int = 1, shuffle: bool = True,
    ) -> None:
        chunks = world_size * grad_accum_steps
        if global_batch_size % chunks:
            raise ValueError(f"global batch {global_batch_size} does not split into {world_size} ranks x "
                             f"{grad_accum_steps} micro-steps")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of {world_size}")
        self.num_samples, self.global_batch_size, self.seed = num_samples, global_batch_size, seed
        self.rank, self.world_size, self.grad_accum_steps, self.shuffle = rank, world_size, grad_accum_steps, shuffle
        self.micro_batch_size = global_batch_size // chunks
        self.steps_per_epoch = num_samples // global_batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{num_samples} training samples cannot fill one global batch of {global_batch_size}")
        self.epoch, self.start_step = 0, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def set_start_step(self, step: int) -> None:
        """Skip the first `step` updates of the epoch (resuming mid-epoch); no sample of them is loaded."""
        if not 0 <= step <= self.steps_per_epoch:
            raise ValueError(f"start step {step} outside the epoch's {self.steps_per_epoch} steps")
        self.start_step = step

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.num_samples, self.seed, self.epoch, shuffle=self.shuffle)
        mb = self.micro_batch_size
        for step in range(self.start_step, self.steps_per_epoch):
            batch = order[step * self.global_batch_size : (step + 1) * self.global_batch_size]
            for micro in range(self.grad_accum_steps):
                chunk = micro * self.world_size + self.rank
                yield from batch[chunk * mb : (chunk + 1) * mb].tolist()

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.grad_accum_steps * self.micro_batch_size
