"""Training hyper-parameters: the schema and the defaults of the official UnLoc configs.

Every config released with the official Scenic/JAX code shares SGD with momentum 0.9 and no weight decay, a global
batch of 64, base LR 0.01 with 10x on the fusion transformer and the heads, global-norm clipping at 1.0, float32 and
seed 0, the default seed of `fit` (reference/unloc-official.md section 4). What varies per config (epochs, warmup, schedule) is given a default
here from QVHighlights-B and changed per stage in params.yaml.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from unloc.schema import check_literals

# dotted config keys a resumed run may change: they alter neither the data order nor the update rule of the steps
# already done; so may any `num_workers` (loader processes), see `config_changes`. `train.out_dir` is the run's output
# directory, which `fit` stores with the train section (as it does the seed, which may not change).
RESUMABLE_CHANGES = frozenset({f"train.{k}" for k in (
    "epochs", "out_dir", "checkpoint_every_epochs", "checkpoint_every_steps", "keep_checkpoints", "world_size")})


def _official_lr_multipliers() -> dict[str, float]:
    # official `layer_prefix_to_base_lrs`: video_text_fusion and <task>_head at 0.1 = 10 x base; towers and
    # projections stay at the base rate. Our model names these parts `fusion`, `pyramid` (inside the official fusion
    # module) and `heads`.
    return {"fusion": 10.0, "pyramid": 10.0, "heads": 10.0}


@dataclass(frozen=True)
class TrainConfig:
    """What `unloc.train.fit` needs to know; model, data and task settings live elsewhere, and so do the run's own
    values (its seed and output directory are arguments of `fit`).

    A step is one optimizer update over `global_batch_size` samples, summed over ranks and accumulation micro-steps.
    """

    epochs: int = 30  # official: 30 for QVH/Charades, 20 ANet-B, 40 ANet-Cap-L, 55 COIN
    global_batch_size: int = 64  # official, every config; steps per epoch = train size // 64 (last partial dropped)
    base_lr: float = 0.01  # official, every config
    optimizer: Literal["sgd", "adamw"] = "sgd"  # official: SGD; 'adamw' is an option for the mini-world
    momentum: float = 0.9  # official SGD momentum (AdamW: beta1)
    weight_decay: float = 0.0  # official: 0 (applied to parameters with ndim >= 2 only)
    lr_multipliers: dict[str, float] = field(default_factory=_official_lr_multipliers)  # name prefix -> x base_lr
    warmup_epochs: float = 2.5  # official: 2.5 (QVH, ANet-B), 5 (Charades, L models); linear from 0
    schedule: Literal["constant", "cosine", "step"] = "cosine"  # official: cosine (QVH), constant (Charades), step (ANet TAL-B, COIN)
    step_epochs: tuple[float, ...] = ()  # schedule 'step': epochs at which lr *= step_gamma (ANet TAL-B: (18,))
    step_gamma: float = 0.1  # official decay factor of every piecewise schedule
    clip_grad_norm: float = 1.0  # official global-norm clipping; 0 disables it
    precision: Literal["fp32", "bf16"] = "fp32"  # official float32; 'bf16' = autocast on CUDA (on CPU only when fit is asked to)
    grad_accum_steps: int = 1  # micro-steps per update; the global batch stays global_batch_size
    num_workers: int = 0  # DataLoader workers per rank
    num_threads: int = 0  # intra-op CPU threads (torch.set_num_threads); 0 keeps torch's default (the core count)
    checkpoint_every_epochs: int = 1  # 0: only at the end
    checkpoint_every_steps: int = 0  # 0: off; > 0 also checkpoints mid-epoch (long paper-scale epochs)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk (>= 1)
    world_size: int = 1  # processes (GPUs); the global batch is split evenly among them

    def __post_init__(self) -> None:
        check_literals(self)
        for name in ("epochs", "global_batch_size", "grad_accum_steps", "world_size", "keep_checkpoints"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("num_workers", "num_threads", "checkpoint_every_epochs", "checkpoint_every_steps"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("base_lr", "weight_decay", "warmup_epochs", "clip_grad_norm", "momentum", "step_gamma"):
            if not 0 <= float(getattr(self, name)) < math.inf:
                raise ValueError(f"TrainConfig.{name} must be finite and >= 0, got {getattr(self, name)!r}")
        shards = self.world_size * self.grad_accum_steps
        if self.global_batch_size % shards:
            raise ValueError(
                f"TrainConfig.global_batch_size={self.global_batch_size} is not divisible by world_size x "
                f"grad_accum_steps = {self.world_size} x {self.grad_accum_steps}"
            )
        steps = tuple(float(e) for e in self.step_epochs)
        if list(steps) != sorted(steps) or not all(0 <= e < math.inf for e in steps):
            raise ValueError(f"TrainConfig.step_epochs must be finite, >= 0 and ascending, got {self.step_epochs!r}")
        object.__setattr__(self, "step_epochs", steps)
        mults = dict(self.lr_multipliers)
        for prefix, mult in mults.items():
            if not isinstance(prefix, str) or not prefix or not 0 <= float(mult) < math.inf:
                raise ValueError(f"TrainConfig.lr_multipliers: bad entry {prefix!r}: {mult!r}")
        object.__setattr__(self, "lr_multipliers", {p: float(m) for p, m in mults.items()})

    @property
    def micro_batch_size(self) -> int:
        """Samples per rank per micro-step."""
        return self.global_batch_size // (self.world_size * self.grad_accum_steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["step_epochs"] = list(self.step_epochs)
        return out



def config_changes(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """'dotted.key: old -> new' for each key of two nested configs that differs and may not change on resume.

    Args:
        saved: the config stored with a checkpoint (as read back from JSON).
        now: the config of the run that resumes; keys in `RESUMABLE_CHANGES` and any `num_workers` may differ.
    """
    old, new = _dotted(saved), _dotted(json.loads(json.dumps(now)))  # tuples -> lists, as stored
    absent = object()
    keys = sorted(k for k in old.keys() | new.keys() if k not in RESUMABLE_CHANGES
                  and k.rsplit(".", 1)[-1] != "num_workers" and old.get(k, absent) != new.get(k, absent))
    return [f"{k}: {_show(old, k)} -> {_show(new, k)}" for k in keys]


def _show(values: dict[str, Any], key: str) -> str:
    return repr(values[key]) if key in values else "(absent)"


def _dotted(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
