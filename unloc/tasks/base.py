"""What every task provides, and the label-assignment, loss and decoding steps that localization tasks share.

A task owns targets, loss and post-processing; the model stays loss-free (reference/style.md §2.4). `step(model,
batch)` is the trainer's `step_fn`: it calls `model(...)` (the DDP wrapper under data parallelism) and returns a dict
with 'loss'. `predict(model, batch)` returns this batch's predictions in seconds, in the format the evaluators take,
and `merge(parts)` joins the per-batch predictions of a whole evaluation set. Localization losses follow the
official code (reference/unloc-official.md §2): targets assigned in level-0 sampled-frame units over all pyramid
levels, 10 x focal + 1 - IoU; decoding maps each position's displacements to seconds with the video's own
(sec_per_unit, t0_sec) and clips to its duration (§3.2).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.model.outputs import HeadOutputs
from unloc.ops.assign import assign_targets
from unloc.ops.decode import decode_segments
from unloc.ops.losses import localization_loss
from unloc.ops.nms import NmsResult, soft_nms
from unloc.ops.segments import make_points
from unloc.tasks.config import NmsConfig, TaskConfig


class Task(Protocol):
    """The interface of `TemporalLocalization`, `MomentRetrieval`, `ActionSegmentation` and `VideoPretraining`."""

    cfg: TaskConfig

    def step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """Forward + loss of one training micro-batch; 'loss' is a scalar that requires grad."""

    def predict(self, model: nn.Module, batch: TaskBatch) -> Any:
        """Predictions of one evaluation batch, in seconds."""

    def merge(self, parts: list[Any]) -> Any:
        """The predictions of many batches as one evaluator input."""


def localization_step(outputs: HeadOutputs, segments: torch.Tensor, labels: torch.Tensor, num_classes: int,
                      cfg: TaskConfig, *, per_query_normalizer: bool = False) -> dict[str, torch.Tensor]:
    """Targets and loss of a localization forward pass.

    Args:
        outputs: model outputs with q = `num_classes` texts per video.
        segments: (b, s, 2) ground truth in level-0 units; labels: (b, s) index into the q texts, -1 = padding.
        num_classes: q.
        cfg: assignment (ranges, radius) and loss (weight, box loss, focal) settings.
        per_query_normalizer: focal normaliser over (video, text, position) triples (official MR) instead of
            (video, position) pairs (official TAL).

    Returns:
        `ops.losses.localization_loss` dict ('loss', 'cls_loss', 'box_loss', 'num_pos').
    """
    if len(cfg.ranges) != outputs.num_levels:
        raise ValueError(f"{len(cfg.ranges)} regression ranges for a model with {outputs.num_levels} pyramid levels")
    logits, offsets, mask = outputs.concat()  # (b, q, T), (b, q, T, 2), (b, T)
    t = outputs.masks[0].shape[1]
    targets = assign_targets(segments.to(logits.device), labels.to(logits.device), num_classes=num_classes, t=t,
                             strides=outputs.strides, regression_ranges=cfg.ranges, radius=cfg.radius,
                             point_mask=mask)
    return localization_loss(logits, offsets, targets.cls_targets, targets.reg_targets, mask,
                             cls_weight=cfg.cls_weight, box=cfg.box_loss, alpha=cfg.focal_alpha,
                             gamma=cfg.focal_gamma, per_query_normalizer=per_query_normalizer,
                             check=False)  # the trainer checks the rank-mean terms: every rank stops together


def decode_outputs(outputs: HeadOutputs, sec_per_unit: torch.Tensor, t0_sec: torch.Tensor,
                   duration_sec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Relevancy probabilities and segments in seconds at every pyramid position.

    Args:
        outputs: (averaged) model outputs of b videos and q texts.
        sec_per_unit, t0_sec, duration_sec: (b,) per-video time map and duration.

    Returns:
        probs (b, q, T), segments_sec (b, q, T, 2) clipped to [0, duration], valid (b, T).
    """
    logits, offsets, mask = outputs.concat()
    if offsets is None:
        raise ValueError("decoding segments needs a model with a regression head (HeadConfig.task='localization')")
    anchors, point_strides = make_points(outputs.masks[0].shape[1], outputs.strides, device=logits.device)
    segments = decode_segments(offsets.float(), anchors, point_strides, sec_per_unit=sec_per_unit,
                               t0_sec=t0_sec, duration_sec=duration_sec)
    return logits.float().sigmoid(), segments, mask


def run_nms(segments: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor, cfg: NmsConfig,
            labels: torch.Tensor | None = None) -> NmsResult:
    """Soft-NMS of candidates (r, n, 2) / (r, n) / (r, n) with the configured settings (rows = videos or captions)."""
    return soft_nms(segments, scores, labels=labels, mask=mask, method=cfg.method, sigma=cfg.sigma,
                    iou_threshold=cfg.iou_threshold, score_threshold=cfg.score_threshold, top_k=cfg.top_k,
                    per_class=cfg.per_class)


def kept_rows(result: NmsResult, row: int) -> list[tuple[float, float, float, int]]:
    """(start, end, score, label) of the kept candidates of one row, best first."""
    keep = result.mask[row]
    segments = result.segments[row][keep].tolist()
    return [(s, e, score, label) for (s, e), score, label in
            zip(segments, result.scores[row][keep].tolist(), result.labels[row][keep].tolist())]


__all__ = ["Task", "decode_outputs", "kept_rows", "localization_step", "run_nms"]
