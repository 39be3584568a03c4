"""Model weights in safetensors: tied and view tensors stored safely, loading by name with clear errors or a report.

safetensors refuses tensors that share memory (tied weights, views): identical views are stored once with an alias
map in the file's metadata, partial views are cloned, so every file holds plain, contiguous CPU tensors. The official
code loads earlier checkpoints by parameter name and raises on shape mismatches (reference/unloc-official.md section
4); `load_weights` does the same, optionally ignoring some prefixes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from unloc.train.atomic import atomic_write_bytes

MODEL_FILE = "model.safetensors"  # the weights file of a checkpoint directory


def weights_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """The safetensors encoding of a state dict: shared memory stored once (aliases in the metadata), on the CPU."""
    unique, aliases = _dedup_shared(tensors)
    # one metadata key: safetensors writes its metadata map in random order, so equal weights would differ in bytes
    return safetensors_bytes(unique, metadata={"unloc.aliases": json.dumps(aliases)})


def save_weights(model_or_state: nn.Module | dict[str, torch.Tensor], path: str | Path) -> Path:
    """Write a model's weights (its `state_dict`) to one safetensors file, atomically; tied tensors stored once."""
    tensors = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    return atomic_write_bytes(path, weights_bytes(tensors))


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a weights file (or of a checkpoint directory's model file), aliases restored, on the CPU.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, when it is not a readable safetensors file (truncated, foreign, bad aliases).
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
            aliases = json.loads((f.metadata() or {}).get("unloc.aliases", "{}"))
    except Exception as err:  # safetensors raises its own error types for truncated or foreign files
        raise ValueError(f"{path} is not a readable safetensors file: {err}") from err
    missing = sorted(target for target in aliases.values() if target not in tensors)
    if missing:
        raise ValueError(f"{path}: aliases refer to tensors the file does not hold: {missing[:5]}")
    return {**tensors, **{alias: tensors[target] for alias, target in aliases.items()}}


def _dedup_shared(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors to write, alias name -> stored name): no shared memory, contiguous, on the CPU.

    Tensors that are the same view of the same memory (tied weights) are stored once: the later names become aliases
    of the first. Different views of one storage (slices) are cloned, so each is stored in full.
    """
    unique: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen_view: dict[tuple, str] = {}
    seen_storage: set[tuple] = set()
    for name, tensor in tensors.items():
        tensor = tensor.detach()
        if tensor.numel() == 0:
            unique[name] = tensor.cpu().clone()
            continue
        storage = (tensor.device.type, tensor.device.index, tensor.untyped_storage().data_ptr())
        view = (*storage, tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if view in seen_view:
            aliases[name] = seen_view[view]
            continue
        seen_view[view] = name
        # a CPU tensor is written as is only if no other name shares its memory and it spans its whole storage
        must_copy = storage in seen_storage or not _owns_storage(tensor)
        seen_storage.add(storage)
        out = tensor.cpu()
        unique[name] = out.contiguous().clone() if must_copy and tensor.device.type == "cpu" else out.contiguous()
    return unique, aliases


def _owns_storage(tensor: torch.Tensor) -> bool:
    """True when the tensor covers its whole storage from offset 0 (so saving it alone is safe)."""
    nbytes = tensor.numel() * tensor.element_size()
    return tensor.storage_offset() == 0 and tensor.untyped_storage().nbytes() == nbytes and tensor.is_contiguous()


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
    return load_tensors(model, read_weights(path), str(path), strict=strict, ignore_prefixes=ignore_prefixes)


def load_tensors(model: nn.Module, file_tensors: dict[str, torch.Tensor], path: str, *, strict: bool = True,
                 ignore_prefixes: Sequence[str] = ()) -> LoadReport:
    """`load_weights` for tensors already read from `path` (named in the report and the errors)."""
    own = model.state_dict()
    skip = tuple(ignore_prefixes)
    report = LoadReport(path=path)
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
