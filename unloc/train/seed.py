"""Seeding and the capture / restore of every random-number generator a training step may draw from.

A resumed run continues bit-identically on CPU only if the generators pick up where the killed run left them: torch's
CPU generator, the current CUDA device's generator, numpy's legacy global generator and python's `random`. The data
order does not live here: it is a pure function of (seed, epoch) (`unloc.train.sampler`).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device).

    Args:
        seed: the seed; the same seed gives the same CPU run.
        deterministic: also ask torch for deterministic kernels (`use_deterministic_algorithms(warn_only=True)`), which
            matters on GPU; CUDA additionally needs CUBLAS_WORKSPACE_CONFIG=:4096:8 set before CUDA starts.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def capture_rng_state() -> dict[str, Any]:
    """Every global generator's state as tensors and plain values (what `torch.load(weights_only=True)` reads back).

    Returns:
        {"torch": uint8 tensor, "cuda": uint8 tensor or None, "numpy": {...}, "python": {...}}.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    cuda = torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return {
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put every global generator back into a state from `capture_rng_state`.

    Args:
        state: the dict `capture_rng_state` returned (possibly after a round trip through a checkpoint).
    """
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    if state.get("cuda") is not None:
        if torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"].to(torch.uint8).cpu())
        else:
            warnings.warn("checkpoint holds a CUDA generator state but CUDA is not available; it is ignored")
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss_next"]))
