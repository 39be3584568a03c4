"""Action segmentation: a sigmoid score per (frame, class) from every video x class-prompt pair (paper §3, §4.3).

The model runs without a pyramid and with the segmentation head (`HeadConfig(task='segmentation')`, `PyramidConfig(
kind='none', num_levels=1)`), so it returns one relevancy logit per frame and class. Training: sigmoid BCE summed over
classes and divided by the valid frames, against per-frame one-hot labels where background frames are all zero
(official COIN loss, reference §2.1-§2.2). A frame is background when no class logit exceeds
`TaskConfig.background_threshold` (official: 0). Testing covers the whole video with consecutive non-overlapping
fixed-rate windows (the evaluation dataset yields every window; the official code tests the centre window only)
and `merge` stitches the windows back into one (K, q) array of raw logits per video, averaged over prompts.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.ops.assign import frame_labels
from unloc.ops.losses import segmentation_loss
from unloc.tasks.prompting import ClassTask


def _frame_logits(outputs) -> torch.Tensor:
    if outputs.num_levels != 1:
        raise ValueError(f"segmentation reads one level, the model has {outputs.num_levels}: use pyramid kind 'none'")
    return outputs.logits[0]  # (b, q, t)


def stitch_windows(windows: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Join per-window scores into whole-video arrays; every sample must be covered exactly once.

    Args:
        windows: dicts {"video_id", "window_start", "scores" (t_w, q), "timestamps_sec" (t_w,)} with the valid
            samples of each window (`ActionSegmentation.predict`).

    Returns:
        {video_id: {"scores": (K, q), "timestamps_sec": (K,)}} in sample order.

    Raises:
        ValueError: two windows overlap or a sample is not covered.
    """
    by_video: dict[str, list[dict]] = {}
    for window in windows:
        by_video.setdefault(window["video_id"], []).append(window)
    out = {}
    for video_id, parts in by_video.items():
        parts = sorted(parts, key=lambda w: w["window_start"])
        covered = 0
        for part in parts:
            if part["window_start"] != covered:
                kind = "overlap" if part["window_start"] < covered else "gap"
                raise ValueError(f"video {video_id}: windows {kind} at sample {covered} (next window starts at "
                                 f"{part['window_start']})")
            covered += len(part["scores"])
        out[video_id] = {"scores": np.concatenate([p["scores"] for p in parts]),
                         "timestamps_sec": np.concatenate([p["timestamps_sec"] for p in parts])}
    return out


def scores_at(stitched: dict[str, np.ndarray], times_sec: np.ndarray) -> np.ndarray:
    """Resample one video's stitched scores to other frame times, e.g. the evaluator's COIN grid i / fps for
    i < floor(duration * fps): each time takes the last sample shown at or before it (the first sample before it).

    Args:
        stitched: {"scores": (K, q), "timestamps_sec": (K,)} of one video (`stitch_windows`).
        times_sec: (T,) query times.

    Returns:
        (T, q) scores.
    """
    idx = np.searchsorted(stitched["timestamps_sec"], np.asarray(times_sec) + 1e-9, side="right") - 1
    return stitched["scores"][np.clip(idx, 0, len(stitched["scores"]) - 1)]


class ActionSegmentation(ClassTask):
    """Targets, loss and per-frame class scores of action segmentation (arguments: `ClassTask`; the classes are the
    steps, `background_threshold` decides background)."""

    def step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """BCE loss of the batch's windows against per-frame labels."""
        logits = _frame_logits(self.train_outputs(model, batch))  # (b, q, t)
        targets = frame_labels(batch.segments.to(logits.device), batch.labels.to(logits.device),
                               num_classes=logits.shape[1], t=logits.shape[-1], frame_mask=batch.video_mask)
        return segmentation_loss(logits, targets, batch.video_mask, check=False)  # finiteness: the trainer's check

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> list[dict]:
        """Per window: {"video_id", "window_start", "scores": (t_w, q) raw logits averaged over prompts,
        "timestamps_sec": (t_w,)}, valid samples only."""
        logits = _frame_logits(self.eval_outputs(model, batch)).float()  # (b, q, t)
        out = []
        for i, video_id in enumerate(batch.video_ids):
            valid = batch.video_mask[i]
            out.append({"video_id": video_id, "window_start": int(batch.window_start[i]),
                        "scores": logits[i][:, valid].T.cpu().numpy(),
                        "timestamps_sec": batch.timestamps_sec[i][valid].cpu().numpy()})
        return out

    def merge(self, parts: list[list[dict]]) -> dict[str, dict[str, np.ndarray]]:
        """Whole-video (K, q) logits and timestamps per video (`stitch_windows`); frame labels follow with
        `unloc.eval.predicted_labels(scores, cfg.background_threshold)`."""
        return stitch_windows([w for part in parts for w in part])


__all__ = ["ActionSegmentation", "scores_at", "stitch_windows"]
