"""What the UnLoc model returns: per-level relevancy logits, displacements and masks (paper §3.3).

This is the contract between the model and the ops/tasks code: level l has stride `strides[l]` in level-0
sampled-frame units and t_l = ceil(t / strides[l]) positions; the anchor of index i at level l is i * strides[l].
Masks are True = valid. No losses or decoding here: tasks turn these tensors into targets, losses and segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class HeadOutputs:
    """Per-level head outputs of one forward pass.

    Attributes:
        logits: per level, (b, q, t_l) raw relevancy logits. q = texts (mid/late fusion) or classes (no_text).
        offsets: per level, (b, q, t_l, 2) non-negative (start, end) displacements in units of that level's
            stride; None when the head has no regression branch (segmentation).
        masks: per level, (b, t_l) bool, True = valid position.
        strides: stride of each level in level-0 sampled-frame units.
    """

    logits: list[torch.Tensor]
    offsets: list[torch.Tensor] | None
    masks: list[torch.Tensor]
    strides: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.strides)
        if len(self.logits) != n or len(self.masks) != n or (self.offsets is not None and len(self.offsets) != n):
            raise ValueError(f"HeadOutputs needs one tensor per level ({n} strides)")

    @property
    def num_levels(self) -> int:
        return len(self.strides)

    def concat(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """All levels concatenated along time, in the order ops.segments.make_points uses.

        Returns:
            logits (b, q, T_tot), offsets (b, q, T_tot, 2) or None, masks (b, T_tot).
        """
        offsets = None if self.offsets is None else torch.cat(self.offsets, dim=2)
        return torch.cat(self.logits, dim=2), offsets, torch.cat(self.masks, dim=1)
