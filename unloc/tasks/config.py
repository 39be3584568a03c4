"""Task settings: label assignment, loss weights, prompts and post-processing of the UnLoc tasks (paper §3.3-§3.5).

Defaults are the official Scenic/JAX values (reference/unloc-official.md §2-§3): FCOS-style assignment with centre
radius 3 and the ActivityNet regression ranges, 10 x sigmoid focal (alpha 0.25, gamma 2) + 1 - IoU, Gaussian Soft-NMS
with sigma 0.3 in TensorFlow's convention, score threshold 0.001 and 100 detections per video (or per caption).
An open upper end of the last regression range is written `null` in YAML (the config loader refuses `.inf`, as
every non-finite number); `ranges` turns it into `float('inf')` for `ops.assign.assign_targets`.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Literal

from unloc.data.prompts import EVAL_MODES
from unloc.ops.losses import BOX_LOSSES
from unloc.ops.nms import NMS_METHODS
from unloc.schema import check_literals

TaskKind = Literal["tal", "mr", "seg", "video_pretrain"]
TASK_KINDS = typing.get_args(TaskKind)
MrPairs = Literal["batch", "own"]
MR_PAIRS = typing.get_args(MrPairs)
BoxLoss = Literal[BOX_LOSSES]
NmsMethod = Literal[NMS_METHODS]
PromptMode = Literal[EVAL_MODES]


@dataclass(frozen=True)
class NmsConfig:
    """Soft-NMS of decoded segments (official `tf.image.non_max_suppression_with_scores`, reference §3.3)."""

    method: NmsMethod = "gaussian"  # 'gaussian' | 'linear' | 'hard'
    sigma: float = 0.3  # TF convention exp(-iou^2 / (2 sigma)); Bodla/ActionFormer sigma' = 0.6
    iou_threshold: float = 0.5  # used by 'linear' / 'hard' only (TF ignores it in soft mode)
    score_threshold: float = 0.001  # candidates below it are never kept (TAL also drops them before NMS)
    top_k: int = 100  # official max_detections, per video (TAL) or per caption (MR)
    per_class: bool = False  # official TAL: class-agnostic ("True is better but slower")

    def __post_init__(self) -> None:
        check_literals(self)
        if self.method == "gaussian" and not self.sigma > 0:
            raise ValueError(f"gaussian Soft-NMS needs sigma > 0, got {self.sigma}")
        if self.score_threshold < 0 or self.top_k < 1:
            raise ValueError(f"need score_threshold >= 0 and top_k >= 1, got {self.score_threshold}, {self.top_k}")


@dataclass(frozen=True)
class TaskConfig:
    """What a task needs besides the model and the data.

    `kind` picks the task object (`unloc.tasks.build_task`). `regression_ranges` has one (lo, hi) pair per pyramid
    level in level-0 sampled-frame units, hi = None for no upper bound; it must match the model's level count.
    """

    kind: TaskKind = "tal"  # 'tal' | 'mr' | 'seg' | 'video_pretrain'
    # official ANet TAL-B, ANet-Captions, Charades; QVH-B uses ((0, 6), (6, 18), (18, 32), (32, None))
    regression_ranges: tuple[tuple[float, float | None], ...] = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, None))
    radius: float = 3.0  # centre sampling radius in strides, every official config
    cls_weight: float = 10.0  # official classification_loss_alpha
    box_loss: BoxLoss = "iou"  # every official config; also 'l1', 'diou', 'l1+iou' (the code's default when unset)
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    prompt_mode: PromptMode = "ensemble"  # eval prompts: 'first' (official test as shipped), 'middle' (official
    # validation) or 'ensemble' (average raw outputs over all templates, the paper's prompt ensembling)
    background_threshold: float = 0.0  # segmentation: a frame whose best logit is <= this is background (p = 0.5)
    saliency: bool = True  # MR predictions carry QVHighlights per-2-s-clip saliency scores
    mr_pairs: MrPairs = "batch"  # MR training pairs: 'batch' = every caption of the global batch with every video
    # (official moment retrieval: in-batch negatives, focal normalised over (video, caption, position) triples);
    # 'own' = each caption with its own video only (official QVHighlights highlight detection: one class, no
    # negatives, focal normalised over (pair, position))
    nms: NmsConfig = field(default_factory=NmsConfig)

    def __post_init__(self) -> None:
        check_literals(self)
        ranges = tuple((float(lo), None if hi is None else float(hi)) for lo, hi in self.regression_ranges)
        if not ranges:
            raise ValueError("regression_ranges needs one (lo, hi) pair per pyramid level")
        for lo, hi in ranges:
            if lo < 0 or (hi is not None and not hi > lo):
                raise ValueError(f"regression range ({lo}, {hi}) needs 0 <= lo < hi (hi None = unbounded)")
        object.__setattr__(self, "regression_ranges", ranges)
        if self.radius <= 0 or self.cls_weight < 0 or self.focal_gamma < 0:
            raise ValueError(f"need radius > 0, cls_weight >= 0, focal_gamma >= 0, got {self}")

    @property
    def ranges(self) -> tuple[tuple[float, float], ...]:
        """The regression ranges with an open upper end as `inf`, as `assign_targets` takes them."""
        return tuple((lo, math.inf if hi is None else hi) for lo, hi in self.regression_ranges)


__all__ = ["MR_PAIRS", "TASK_KINDS", "NmsConfig", "TaskConfig"]
