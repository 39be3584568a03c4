"""Checkpoints without pickle, written atomically; loading weights by name with clear errors or a partial report.

A checkpoint is a directory `step-000000123/` holding `model.safetensors` (the weights), `state.safetensors` (every
tensor of the optimizer and generator states) and `state.json` (step, epoch, config and the structure around those
tensors, see `unloc.train.state_io`). It is written into a hidden temporary directory whose files are fsync'ed, then
renamed into place in one `os.replace`: a crash at any point leaves either the complete new directory or none, and
the previous checkpoints untouched. Tied weights are stored once with an alias map in the safetensors metadata
(safetensors refuses shared memory). The official code loads earlier checkpoints by parameter name and raises on shape
mismatches (reference/unloc-official.md section 4); `load_weights` does the same, optionally ignoring some prefixes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from unloc.train.state_io import dedup_shared, expand_aliases, flatten_state, unflatten_state

MODEL_FILE, STATE_FILE, META_FILE = "model.safetensors", "state.safetensors", "state.json"
FORMAT = "unloc-train-checkpoint/1"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write one file so that `path` is either its old content or the complete new one, never half of it.

    Args:
        path: the destination.
        write: writes the content to the temporary path it is given.

    Returns:
        `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_weights(tensors: dict[str, torch.Tensor], path: Path) -> None:
    unique, aliases = dedup_shared(tensors)
    # one metadata key: safetensors writes metadata in random order (safetensors#584), equal weights would differ
    save_file(unique, str(path), metadata={"unloc.aliases": json.dumps(aliases)})


def save_weights(model_or_state: nn.Module | dict[str, torch.Tensor], path: str | Path) -> Path:
    """Write a model's weights (its `state_dict`) to one safetensors file, atomically; tied tensors stored once."""
    tensors = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    return atomic_write(path, lambda tmp: _write_weights(tensors, tmp))


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a weights file (or of a checkpoint directory's model file), aliases restored, on the CPU."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    tensors, metadata = _read_safetensors(path)
    return expand_aliases(tensors, json.loads(metadata.get("unloc.aliases", "{}")))


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            names = f.keys()  # a safetensors handle, not a dict
            return {k: f.get_tensor(k) for k in names}, (f.metadata() or {})
    except Exception as err:  # safetensors raises its own error types for truncated or foreign files
        raise ValueError(f"{path} is not a readable safetensors file: {err}") from err


def save_checkpoint(root: str | Path, step: int, *, model_state: dict[str, torch.Tensor], state: dict[str, Any],
                    keep: int = 2) -> Path:
    """Write `root/step-<step>/` atomically and prune all but the newest `keep` checkpoints.

    Args:
        root: the checkpoints directory.
        step: completed updates (names the directory).
        model_state: the unwrapped model's `state_dict`.
        state: JSON-able nest with tensors (optimizer state, generator states, counters, config).
        keep: newest checkpoints to keep (>= 1).

    Returns:
        The checkpoint directory.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:09d}"
    tmp = root / f".tmp-{final.name}-{uuid.uuid4().hex}"
    tree, tensors = flatten_state(state)
    try:
        tmp.mkdir()
        _write_weights(model_state, tmp / MODEL_FILE)
        save_file(tensors, str(tmp / STATE_FILE), metadata={"format": "pt"})
        meta = {"format": FORMAT, "step": step, "state": tree}
        (tmp / META_FILE).write_text(json.dumps(meta, allow_nan=False, indent=1))
        for name in (MODEL_FILE, STATE_FILE, META_FILE):
            _fsync(tmp / name)
        _fsync(tmp)
        if final.exists():
            remove_checkpoint(final)
        os.replace(tmp, final)  # the commit: a directory rename is atomic
        _fsync(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(root)[:-keep]:
        remove_checkpoint(old)
    return final


def remove_checkpoint(directory: Path) -> None:
    """Delete a checkpoint directory: renamed out of the way first, so no half-deleted one keeps a valid name."""
    trash = directory.with_name(f".trash-{directory.name}-{uuid.uuid4().hex}")
    os.replace(directory, trash)
    shutil.rmtree(trash, ignore_errors=True)


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint directories under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if (p / META_FILE).is_file()]


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint directory under `root`, or None."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint_state(directory: str | Path) -> dict[str, Any]:
    """The training state (`state` given to `save_checkpoint`) of a checkpoint directory."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{meta_path}: not a readable checkpoint state: {err}") from err
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    tensors, _ = _read_safetensors(directory / STATE_FILE)
    return unflatten_state(meta["state"], tensors)


@dataclass
class LoadReport:
    """What `load_weights` did: names loaded, and those left out of either side."""

    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    ignored: list[str] = field(default_factory=list)  # matched an ignore prefix (either side)

    def summary(self) -> str:
        """One line per category, with up to 8 names each."""
        lines = [f"{self.path}: loaded {len(self.loaded)} tensors"]
        for label, names in (("missing", self.missing), ("unexpected", self.unexpected), ("ignored", self.ignored)):
            if names:
                lines.append(f"  {label} ({len(names)}): {_head(names)}")
        return "\n".join(lines)


def _head(names: Sequence[str], n: int = 8) -> str:
    return ", ".join(names[:n]) + (f", ... (+{len(names) - n})" if len(names) > n else "")


def load_weights(model: nn.Module, path: str | Path, *, strict: bool = True,
                 ignore_prefixes: Sequence[str] = ()) -> LoadReport:
    """Load weights by name into `model` from a safetensors file or a checkpoint directory.

    Args:
        model: the (unwrapped) model to fill.
        path: a `.safetensors` weights file or a checkpoint directory.
        strict: True: every model tensor must be in the file and every file tensor in the model. False (partial
            loading, e.g. a task model from a pretraining checkpoint): load the names both share, report the rest.
        ignore_prefixes: names starting with any of these (e.g. "heads") are skipped on both sides, also when strict.

    Returns:
        The `LoadReport`.

    Raises:
        ValueError: naming the file and the offending keys when shapes differ (always) or, when strict, when keys are
            missing or unexpected.
    """
    file_tensors = read_weights(path)
    own = model.state_dict()
    skip = tuple(ignore_prefixes)
    report = LoadReport(path=str(path))
    report.ignored = sorted(k for k in set(own) | set(file_tensors) if k.startswith(skip)) if skip else []
    ignored = set(report.ignored)
    report.missing = sorted(k for k in own if k not in file_tensors and k not in ignored)
    report.unexpected = sorted(k for k in file_tensors if k not in own and k not in ignored)
    shared = [k for k in own if k in file_tensors and k not in ignored]
    mismatched = [f"{k}: file {tuple(file_tensors[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in shared if file_tensors[k].shape != own[k].shape]
    problems = [f"shape mismatch ({len(mismatched)}): {_head(mismatched)}"] if mismatched else []
    if strict:
        problems += [f"{label} ({len(v)}): {_head(v)}" for label, v in
                     (("missing from the file", report.missing), ("unexpected in the file", report.unexpected)) if v]
    if problems:
        raise ValueError(f"cannot load weights from {path} into {type(model).__name__}:\n  " + "\n  ".join(problems))
    model.load_state_dict({k: file_tensors[k] for k in shared}, strict=False)
    report.loaded = shared
    return report
