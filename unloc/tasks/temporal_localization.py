"""Temporal action localization: every video against every class prompt (paper §3, §4.2; reference §2-§3).

Training pairs each video with one prompt per class (a random template per class and step) and applies the
localization loss with per-class displacements and the official (video, position) focal normaliser. Prediction
averages raw logits and displacements over the evaluation prompts (prompt ensembling), takes the sigmoid, keeps every
(position, class) cell with probability >= the NMS score threshold (no pre-NMS top-k, as official), decodes the
segments in seconds and runs Gaussian Soft-NMS, class-agnostic by default (official `multiclass_nms=False`).
Zero-shot: train with the seen class names and predict with `eval_class_names` = the unseen ones; the datasets
relabel their segments into those lists (`unloc.data.build`).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.tasks.base import decode_outputs, kept_rows, localization_step, run_nms
from unloc.tasks.prompting import ClassTask

Detection = dict  # {"label": str, "score": float, "segment": [start_sec, end_sec]}


class TemporalLocalization(ClassTask):
    """Targets, loss and ActivityNet-style detections of temporal action localization (arguments: `ClassTask`;
    `eval_class_names` are the classes to detect, the unseen ones for zero-shot)."""

    def step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """Training loss of a batch; labels index `class_names`."""
        outputs = self.train_outputs(model, batch)  # logits (b, q, t_l), offsets (b, q, t_l, 2)
        return localization_step(outputs, batch.segments, batch.labels, self.train_prompts.num_classes, self.cfg)

    def scores(self, model: nn.Module, batch: TaskBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prompt-averaged probabilities (b, q, T), segments in seconds (b, q, T, 2) and valid positions (b, T)."""
        outputs = self.eval_outputs(model, batch)
        return decode_outputs(outputs, batch.sec_per_unit, batch.t0_sec, batch.duration_sec)

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> dict[str, list[Detection]]:
        """Detections of every video of the batch after Soft-NMS, best first.

        Returns:
            {video_id: [{"label", "score", "segment": [start_sec, end_sec]}, ...]}: the `results` of an ActivityNet
            submission (`unloc.eval.activitynet_detection_metrics`), labels from `eval_class_names`.
        """
        probs, segments, valid = self.scores(model, batch)
        b, q, t = probs.shape
        keep = valid[:, None, :] & (probs >= self.cfg.nms.score_threshold)  # (b, q, T)
        labels = torch.arange(q, device=probs.device)[None, :, None].expand(b, q, t)
        result = run_nms(rearrange(segments, "b q t two -> b (q t) two"), rearrange(probs, "b q t -> b (q t)"),
                         rearrange(keep, "b q t -> b (q t)"), self.cfg.nms, labels=rearrange(labels, "b q t -> b (q t)"))
        names = self.eval_prompts.class_names
        return {video_id: [{"label": names[c], "score": score, "segment": [start, end]}
                           for start, end, score, c in kept_rows(result, i)]
                for i, video_id in enumerate(batch.video_ids)}

    def merge(self, parts: list[dict[str, list[Detection]]]) -> dict:
        """An ActivityNet-1.3 submission {"version", "results": {video_id: detections}, "external_data"}."""
        results: dict[str, list[Detection]] = {}
        for part in parts:
            for video_id, detections in part.items():
                results.setdefault(video_id, []).extend(detections)
        return {"version": "VERSION 1.3", "results": results, "external_data": {"used": False}}


__all__ = ["TemporalLocalization"]
