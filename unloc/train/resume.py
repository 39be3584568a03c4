"""What a training checkpoint holds besides the weights, and how a run picks it back up.

The state is the position (completed updates, epoch, updates done in that epoch), wall time, the config, the optimizer
state and every rank's generator states. The data order needs nothing more: it is a function of (seed, epoch) and the
position (`unloc.train.sampler`). Restoring all of it makes a resumed CPU run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unloc.train.checkpoint import latest_checkpoint, load_checkpoint_state, load_weights, save_checkpoint
from unloc.train.config import TrainConfig
from unloc.train.distributed import all_gather_objects, barrier, is_main, world_info
from unloc.train.seed import capture_rng_state, restore_rng_state

# fields a resumed run may change: they alter neither the data order nor the update rule of the steps already done
RESUMABLE_CHANGES = frozenset(
    {"epochs", "num_workers", "out_dir", "checkpoint_every_epochs", "checkpoint_every_steps", "keep_checkpoints",
     "world_size"}
)


@dataclass
class Position:
    """Where training stands: completed updates overall and in `epoch`, and wall time spent so far."""

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    elapsed_sec: float = 0.0


def write_training_checkpoint(root: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                              pos: Position, steps_per_epoch: int) -> Path | None:
    """Collective: every rank contributes its generator state, rank 0 writes; returns the directory on rank 0.

    Args:
        root: the checkpoints directory.
        model: the unwrapped model.
        optimizer: its optimizer.
        cfg: the run's config (stored for the resume check).
        pos: the position after the last completed update.
        steps_per_epoch: updates per epoch (stored for the resume check).
    """
    rng_states = all_gather_objects(capture_rng_state())
    path = None
    if is_main():
        state: dict[str, Any] = {
            "step": pos.step, "epoch": pos.epoch, "step_in_epoch": pos.step_in_epoch, "elapsed_sec": pos.elapsed_sec,
            "steps_per_epoch": steps_per_epoch, "world_size": world_info().world_size, "config": cfg.to_dict(),
            "data": {"seed": cfg.seed, "epoch": pos.epoch, "start_step": pos.step_in_epoch},
            "optimizer": optimizer.state_dict(), "rng": rng_states,
        }
        path = save_checkpoint(root, pos.step, model_state=model.state_dict(), state=state,
                               keep=cfg.keep_checkpoints)
    barrier()
    return path


def resume_training(root: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                    steps_per_epoch: int) -> tuple[Position, Path | None, list[dict] | None]:
    """Load the newest checkpoint under `root` into model and optimizer; position 0 when there is none.

    Generator states are not restored here (see `restore_rank_rng`): the caller does that last, right before the
    first update, so that nothing in between draws from them.

    Returns:
        (position, checkpoint directory, every rank's generator states); (Position(), None, None) without one.

    Raises:
        ValueError: when the checkpoint's config differs in a field outside `RESUMABLE_CHANGES`, or the number of
            steps per epoch (the dataset) changed.
    """
    latest = latest_checkpoint(root)
    if latest is None:
        return Position(), None, None
    state = load_checkpoint_state(latest)
    saved, now = state["config"], cfg.to_dict()
    changed = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ValueError(f"cannot resume from {latest}: the config changed ({diffs})")
    if state["steps_per_epoch"] != steps_per_epoch:
        raise ValueError(f"cannot resume from {latest}: {state['steps_per_epoch']} steps per epoch then, "
                         f"{steps_per_epoch} now (did the training set change?)")
    load_weights(model, latest, strict=True)
    optimizer.load_state_dict(state["optimizer"])
    pos = Position(step=state["step"], epoch=state["epoch"], step_in_epoch=state["step_in_epoch"],
                   elapsed_sec=state["elapsed_sec"])
    return pos, latest, state["rng"]


def restore_rank_rng(states: list[dict], checkpoint: Path) -> None:
    """Put this rank's generators back as they were in `states` (from `resume_training`), read from `checkpoint`."""
    rank = world_info().rank
    if len(states) != world_info().world_size:
        warnings.warn(f"{checkpoint} was written by {len(states)} ranks, now {world_info().world_size}: rank {rank} "
                      f"takes the generator state of rank {rank % len(states)}; the run is no longer bit-identical")
    restore_rng_state(states[rank % len(states)])
