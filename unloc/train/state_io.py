"""Nested training state <-> (JSON tree, flat tensor dict), so checkpoints need no pickle.

An optimizer `state_dict` is a nest of dicts with int keys, lists, tuples, floats and tensors. `flatten_state` walks
it, stores every tensor under its path (e.g. `optimizer/state/3/momentum_buffer`) for a safetensors file and leaves a
JSON tree with `{"__tensor__": path}` in its place; `unflatten_state` inverts it exactly. safetensors also refuses
tensors that share memory (tied weights, views): `dedup_shared` stores one copy of identical views plus an alias map
and clones partial views, so every file holds plain, contiguous, unshared CPU tensors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

_MARKERS = ("__tensor__", "__items__", "__tuple__", "__float__")


def flatten_state(obj: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested state into a JSON-able tree and the tensors it holds.

    Args:
        obj: dicts (any JSON-able keys), lists, tuples, tensors, numpy arrays/scalars, int/float/str/bool/None.
        prefix: path prefix of the tensor keys.

    Returns:
        (tree, tensors): `json.dumps(tree, allow_nan=False)` works; tensors are detached CPU tensors keyed by path.

    Raises:
        TypeError: for any other leaf type, naming its path.
    """
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(obj, prefix, tensors)
    return tree, tensors


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `flatten_state`.

    Args:
        tree: the JSON tree.
        tensors: the tensors by path (as loaded from safetensors).

    Returns:
        The nested state, with the original container types (tuples, int keys) and tensors.
    """
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if len(tree) == 1 and next(iter(tree)) in _MARKERS:
        marker, value = next(iter(tree.items()))
        if marker == "__tensor__":
            if value not in tensors:
                raise KeyError(f"state tensor {value!r} is missing from the tensor file")
            return tensors[value]
        if marker == "__items__":
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in value}
        if marker == "__tuple__":
            return tuple(unflatten_state(v, tensors) for v in value)
        return float(value)
    return {k: unflatten_state(v, tensors) for k, v in tree.items()}


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        return _encode(torch.from_numpy(np.ascontiguousarray(obj)), path, tensors)
    if isinstance(obj, np.generic):
        return _encode(obj.item(), path, tensors)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) and k not in _MARKERS for k in obj)
        if plain:
            return {k: _encode(v, f"{path}/{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, f"{path}/key", {}), _encode(v, f"{path}/{k}", tensors)] for k, v in obj.items()]}
    raise TypeError(f"cannot store {type(obj).__name__} at {path or '<root>'} in a checkpoint (no pickle)")


def dedup_shared(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Make a tensor dict safe for safetensors: no shared memory, contiguous, on CPU.

    Tensors that are the same view of the same memory (tied weights) are stored once: the later names become
    aliases of the first. Different views of one storage (slices) are cloned, so each is stored in full.

    Args:
        tensors: name -> tensor (e.g. a model `state_dict`).

    Returns:
        (unique, aliases): tensors to write, and alias name -> stored name.
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


def expand_aliases(tensors: dict[str, torch.Tensor], aliases: dict[str, str]) -> dict[str, torch.Tensor]:
    """Inverse of the dedup: every alias name points at its stored tensor again."""
    out = dict(tensors)
    for alias, target in aliases.items():
        if target not in tensors:
            raise KeyError(f"alias {alias!r} refers to {target!r}, which the file does not hold")
        out[alias] = tensors[target]
    return out
