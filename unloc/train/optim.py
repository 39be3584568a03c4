"""Optimizer, per-module learning rates, the LR schedule and gradient clipping of the official UnLoc recipe.

The official configs train with SGD (momentum 0.9, no weight decay) at base LR 0.01 and give the fusion transformer and
the heads 10x that rate through name prefixes (`layer_prefix_to_base_lrs`); the LR warms up linearly from 0 and then
stays constant, decays by cosine to 0, or drops by x0.1 at given epochs; gradients are clipped to global norm 1.0
(reference/unloc-official.md section 4). As in the official code (scenic's schedule factors) the LR of the update that
follows `step` completed updates is `base * min(1, step / warmup) * decay(step)`, so the very first update has LR 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from unloc.train.config import TrainConfig


def build_param_groups(
    model: nn.Module, *, base_lr: float, lr_multipliers: dict[str, float], weight_decay: float
) -> list[dict]:
    """Group the trainable parameters by learning-rate multiplier and weight decay.

    A parameter takes the multiplier of the longest prefix in `lr_multipliers` that matches its name (a prefix `p`
    matches `p` and `p.*`), else 1. Frozen parameters (`requires_grad=False`) are left out of every group. Weight decay
    applies to parameters with ndim >= 2 only (not to biases, norms and scales).

    Args:
        model: the model (unwrapped: names without a `module.` prefix).
        base_lr: LR of multiplier 1.
        lr_multipliers: name prefix -> multiplier.
        weight_decay: decay of the matrices.

    Returns:
        torch.optim param groups; each carries `base_lr` (its peak LR), `lr_mult`, `weight_decay` and `name`.
    """
    groups: dict[tuple[float, float], dict] = {}
    matched: set[str] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        prefix = _longest_prefix(name, lr_multipliers)
        if prefix is not None:
            matched.add(prefix)
        mult = lr_multipliers[prefix] if prefix is not None else 1.0
        decay = weight_decay if param.ndim >= 2 else 0.0
        group = groups.setdefault((mult, decay), {
            "params": [], "lr": base_lr * mult, "base_lr": base_lr * mult, "lr_mult": mult,
            "weight_decay": decay, "name": f"lr_x{mult:g}" + ("_decay" if decay else ""),
        })
        group["params"].append(param)
    unused = sorted(set(lr_multipliers) - matched)
    if unused:
        warnings.warn(f"lr_multipliers prefixes {unused} match no trainable parameter of {type(model).__name__}")
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameter (all requires_grad=False)")
    return list(groups.values())


def _longest_prefix(name: str, prefixes: Iterable[str]) -> str | None:
    hits = [p for p in prefixes if name == p or name.startswith(p + ".")]
    return max(hits, key=len) if hits else None


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (official) or AdamW over `build_param_groups(model, ...)`.

    Args:
        model: the unwrapped model.
        cfg: optimizer, base_lr, momentum (AdamW: beta1), weight_decay, lr_multipliers.

    Returns:
        The optimizer; its groups start at LR 0 until `apply_lr` sets the scheduled value.
    """
    groups = build_param_groups(
        model, base_lr=cfg.base_lr, lr_multipliers=cfg.lr_multipliers, weight_decay=cfg.weight_decay
    )
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.base_lr, momentum=cfg.momentum, weight_decay=0.0)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.base_lr, betas=(cfg.momentum, 0.999), weight_decay=0.0)
    return opt


@dataclass(frozen=True)
class LrSchedule:
    """The LR factor as a pure function of the number of completed updates.

    Attributes:
        total_steps: updates in the whole run (cosine reaches 0 there).
        warmup_steps: linear warmup length; factor = step / warmup_steps until then.
        kind: 'constant' | 'cosine' | 'step'.
        drop_steps: for 'step', the factor is multiplied by `gamma` once `step` reaches each of these.
        gamma: the drop factor.
        base_lr: LR of multiplier 1, so that `apply_lr` returns a rate.
    """

    total_steps: int
    warmup_steps: int
    kind: str = "constant"
    drop_steps: tuple[int, ...] = ()
    gamma: float = 0.1
    base_lr: float = 1.0

    @classmethod
    def from_config(cls, cfg: TrainConfig, steps_per_epoch: int) -> LrSchedule:
        """Epoch-valued config fields converted to steps, truncated as the configs' `int(epochs * steps_per_epoch)`."""
        return cls(
            total_steps=cfg.epochs * steps_per_epoch,
            warmup_steps=int(cfg.warmup_epochs * steps_per_epoch),
            kind=cfg.schedule,
            drop_steps=tuple(int(e * steps_per_epoch) for e in cfg.step_epochs),
            gamma=cfg.step_gamma,
            base_lr=cfg.base_lr,
        )

    def factor(self, step: int) -> float:
        """LR multiplier in [0, 1] for the update that follows `step` completed updates."""
        warm = min(1.0, step / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        if self.kind == "constant":
            return warm
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            return warm * 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.kind == "step":
            return warm * self.gamma ** sum(step >= s for s in self.drop_steps)
        raise ValueError(f"unknown LR schedule {self.kind!r}")


def apply_lr(optimizer: torch.optim.Optimizer, schedule: LrSchedule, step: int) -> float:
    """Set every group's LR to its `base_lr` x `schedule.factor(step)`; returns the multiplier-1 LR."""
    factor = schedule.factor(step)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return schedule.base_lr * factor


def clip_gradients(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Global-norm clipping (all gradients scaled by min(1, max_norm / norm)); max_norm <= 0 only measures.

    Args:
        parameters: the parameters whose `.grad` to clip (those without a gradient are skipped).
        max_norm: the global L2 norm after clipping.

    Returns:
        The global norm before clipping (0-dim float tensor; NaN or inf when a gradient is not finite).
    """
    with_grad = [p for p in parameters if p.grad is not None]
    if not with_grad:
        return torch.zeros(())
    norm = torch.nn.utils.get_total_norm([p.grad for p in with_grad], norm_type=2.0)
    if max_norm > 0 and torch.isfinite(norm):
        torch.nn.utils.clip_grads_with_norm_(with_grad, max_norm, norm)
    return norm
