"""Training checkpoints: weights in safetensors, the rest through `torch.save`, progress and config in JSON; atomic.

A checkpoint is a directory `step-000000123/` holding
    model.safetensors  the unwrapped model's weights (`unloc.train.weights`);
    state.pt           the optimizer state, every rank's generator states and the sampler position, written with
                       `torch.save` and read with `torch.load(weights_only=True)` (tensors and plain containers only);
    progress.json      the position (step, epoch, step in epoch, wall time), steps per epoch, world size, the resolved
                       config, and the size and sha256 of the two other files.
The LR schedule needs no state (a function of the step), nor does the data order (a function of (seed, epoch) and the
position, `unloc.train.sampler`): restoring the rest makes a resumed CPU run bit-identical to an uninterrupted one.

The files are written into a hidden temporary directory, fsync'ed, and the directory is renamed into place: a kill at
any point leaves the complete new checkpoint or none, and the previous ones untouched; the next run removes what a
killed writer left (`remove_interrupted_writes`). Resuming reads the newest checkpoint; if its files do not match their
recorded sizes and digests it is corrupt, and the previous complete one is used instead (one warning line each).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unloc.train.atomic import fsync, remove_stale_temporaries, remove_tree, temporary_path, write_synced
from unloc.train.config import config_changes
from unloc.train.distributed import all_gather_objects, barrier, is_main, world_info
from unloc.train.seed import capture_rng_state, restore_rng_state
from unloc.train.weights import MODEL_FILE, load_tensors, read_weights, weights_bytes

STATE_FILE, PROGRESS_FILE = "state.pt", "progress.json"
FORMAT = "unloc-train-checkpoint/2"
_STEP_DIR = re.compile(r"^step-(\d+)$")
log = logging.getLogger("unloc.train")


class CorruptCheckpointError(ValueError):
    """A checkpoint directory whose files are missing, truncated or altered; the message names the file."""


class ResumeError(ValueError):
    """Training cannot resume; `reason` is 'missing' (no checkpoint), 'corrupt' (none readable), 'config' or 'data'."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple:  # so that it crosses process boundaries (`launch`) intact
        return type(self), (str(self), self.reason)


@dataclass
class Position:
    """Where training stands: completed updates overall and in `epoch`, and wall time spent so far."""

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    elapsed_sec: float = 0.0


def _torch_bytes(state: Any) -> bytes:
    """`torch.save` of `state`, refused (TypeError) unless `torch.load(weights_only=True)` reads it back."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise TypeError(f"the training state holds a type that torch.load(weights_only=True) refuses: {err}") from err
    return data


def save_checkpoint(root: str | Path, step: int, *, model_state: dict[str, torch.Tensor], state: dict[str, Any],
                    progress: dict[str, Any], keep: int = 2) -> Path:
    """Write `root/step-<step>/` atomically and prune all but the newest `keep` checkpoints.

    Args:
        root: the checkpoints directory.
        step: completed updates (names the directory).
        model_state: the unwrapped model's `state_dict`.
        state: tensors and plain containers (optimizer and generator states), for `torch.save`.
        progress: JSON-able position and config.
        keep: newest checkpoints to keep (>= 1).

    Returns:
        The checkpoint directory.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:09d}"  # as `write_training_checkpoint` names it on every rank
    blobs = {MODEL_FILE: weights_bytes(model_state), STATE_FILE: _torch_bytes(state)}
    files = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in blobs.items()}
    meta = {"format": FORMAT, "step": step, **progress, "files": files}
    blobs[PROGRESS_FILE] = json.dumps(meta, allow_nan=False, indent=1).encode()
    tmp = temporary_path(final)
    try:
        tmp.mkdir()
        for name, data in blobs.items():
            write_synced(tmp / name, data)
        fsync(tmp)
        if final.exists():
            remove_tree(final)
        os.replace(tmp, final)  # the commit: a directory rename is atomic
        fsync(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(root)[:-keep]:
        remove_tree(old)
    return final


def list_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint directories under `root` (complete, unless damaged after the write), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest checkpoint directory under `root`, or None."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def remove_interrupted_writes(*directories: str | Path) -> int:
    """Delete what killed checkpoint (or history) writers left in `directories`; logs and returns the count."""
    removed: list[Path] = []
    for directory in directories:
        gone, kept = remove_stale_temporaries(directory)
        removed += gone
        if kept:
            log.warning("left %d temporary file(s) in %s that a running process may still write: %s", len(kept),
                        directory, ", ".join(p.name for p in kept))
    if removed:
        log.warning("removed %d temporary file(s) left by an interrupted write: %s", len(removed),
                    ", ".join(str(p) for p in removed))
    return len(removed)


def read_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """(progress, state, weights) of a checkpoint directory, every file checked against its recorded size and digest.

    Raises:
        CorruptCheckpointError: naming the first file that is missing, damaged or not of this format.
    """
    directory = Path(directory)
    meta = _read_progress(directory / PROGRESS_FILE)
    data = {name: _checked_bytes(directory / name, meta["files"].get(name)) for name in (MODEL_FILE, STATE_FILE)}
    try:
        state = torch.load(io.BytesIO(data[STATE_FILE]), map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise CorruptCheckpointError(f"{directory / STATE_FILE}: not a readable torch state ({err})") from err
    try:
        weights = read_weights(directory / MODEL_FILE)
    except ValueError as err:
        raise CorruptCheckpointError(str(err)) from err
    return meta, state, weights


_PROGRESS_KEYS = ("step", "epoch", "step_in_epoch", "elapsed_sec", "steps_per_epoch", "config", "files")


def _read_progress(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_bytes())
    except FileNotFoundError as err:
        if (path.parent / "state.json").is_file():
            raise CorruptCheckpointError(f"{path.parent}: written by an earlier unloc (format 1), it cannot be "
                                         "resumed") from err
        raise CorruptCheckpointError(f"{path}: missing") from err
    except (OSError, ValueError) as err:  # ValueError: JSON or UTF-8 decoding
        raise CorruptCheckpointError(f"{path}: unreadable ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CorruptCheckpointError(f"{path}: format {found!r}, expected {FORMAT!r}")
    absent = [k for k in _PROGRESS_KEYS if k not in meta]
    if absent or not isinstance(meta["files"], dict):
        raise CorruptCheckpointError(f"{path}: incomplete (no {absent or 'files'})")
    return meta


def _checked_bytes(path: Path, recorded: Any) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorruptCheckpointError(f"{path}: {'missing' if isinstance(err, FileNotFoundError) else err}") from err
    digest = hashlib.sha256(data).hexdigest()
    if not isinstance(recorded, dict) or (len(data), digest) != (recorded.get("bytes"), recorded.get("sha256")):
        want = f"{recorded.get('bytes')} bytes" if isinstance(recorded, dict) else "no record"
        raise CorruptCheckpointError(f"{path}: {len(data)} bytes with sha256 {digest[:12]}..., but it was written "
                                     f"with {want} and another digest")
    return data


def write_training_checkpoint(root: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                              config: dict[str, Any], pos: Position, steps_per_epoch: int, seed: int,
                              keep: int) -> Path:
    """Collective: every rank contributes its generator state, rank 0 writes; returns the directory (every rank).

    Args:
        root: the checkpoints directory.
        model: the unwrapped model.
        optimizer: its optimizer.
        config: the run's resolved config (nested, JSON-able), compared on resume.
        pos: the position after the last completed update.
        steps_per_epoch: updates per epoch (compared on resume).
        seed: the data-order seed (stored with the sampler position).
        keep: newest checkpoints to keep.
    """
    rng_states = all_gather_objects(capture_rng_state())
    path = root / f"step-{pos.step:09d}"
    if is_main():
        progress = {"epoch": pos.epoch, "step_in_epoch": pos.step_in_epoch, "elapsed_sec": pos.elapsed_sec,
                    "steps_per_epoch": steps_per_epoch, "world_size": world_info().world_size, "config": config}
        state = {"optimizer": optimizer.state_dict(), "rng": rng_states,
                 "sampler": {"seed": seed, "epoch": pos.epoch, "start_step": pos.step_in_epoch}}
        path = save_checkpoint(root, pos.step, model_state=model.state_dict(), state=state, progress=progress,
                               keep=keep)
    barrier()
    return path


def resume_training(root: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, config: dict[str, Any],
                    steps_per_epoch: int, require: bool = True) -> tuple[Position, Path | None, list[dict] | None]:
    """Load the newest readable checkpoint under `root` into model and optimizer.

    A corrupt checkpoint is skipped for the previous one, with one warning line naming its damaged file. Generator
    states are not restored here (see `restore_rank_rng`): the caller does that last, right before the first update,
    so that nothing in between draws from them.

    Args:
        require: True: no checkpoint is an error; False: start from position 0 then (and say so).

    Returns:
        (position, checkpoint directory, every rank's generator states); (Position(), None, None) without one.

    Raises:
        ResumeError: no checkpoint (when `require`), none readable, the config changed in a key outside
            `unloc.train.config.RESUMABLE_CHANGES` (all listed), or the number of steps per epoch (the dataset) changed.
    """
    corrupt: list[CorruptCheckpointError] = []
    for directory in reversed(list_checkpoints(root)):
        try:
            meta, state, weights = read_checkpoint(directory)
        except CorruptCheckpointError as err:
            corrupt.append(err)
            continue
        changes = config_changes(meta["config"], config)
        if changes:
            raise ResumeError(f"cannot resume from {directory}: the config changed: " + "; ".join(changes), "config")
        if meta["steps_per_epoch"] != steps_per_epoch:
            raise ResumeError(f"cannot resume from {directory}: {meta['steps_per_epoch']} steps per epoch then, "
                              f"{steps_per_epoch} now (did the training set change?)", "data")
        load_tensors(model, weights, str(directory / MODEL_FILE), strict=True)
        optimizer.load_state_dict(state["optimizer"])
        if is_main():
            for err in corrupt:
                log.warning("corrupt checkpoint, skipped: %s; resuming from %s instead", err, directory)
        pos = Position(step=meta["step"], epoch=meta["epoch"], step_in_epoch=meta["step_in_epoch"],
                       elapsed_sec=meta["elapsed_sec"])
        return pos, directory, state["rng"]
    if corrupt:
        raise ResumeError(f"cannot resume: every checkpoint in {root} is corrupt: "
                          + "; ".join(str(err) for err in corrupt), "corrupt")
    if require:
        raise ResumeError(f"cannot resume: no checkpoint in {root}", "missing")
    if is_main():
        log.warning("no checkpoint in %s: training starts from scratch", root)
    return Position(), None, None


def restore_rank_rng(states: list[dict], checkpoint: Path) -> None:
    """Put this rank's generators back as they were in `states` (from `resume_training`), read from `checkpoint`."""
    rank = world_info().rank
    if len(states) != world_info().world_size:
        warnings.warn(f"{checkpoint} was written by {len(states)} ranks, now {world_info().world_size}: rank {rank} "
                      f"takes the generator state of rank {rank % len(states)}; the run is no longer bit-identical")
    restore_rng_state(states[rank % len(states)])
