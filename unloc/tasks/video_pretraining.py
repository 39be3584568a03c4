"""Video pretraining: multi-label classification of trimmed Kinetics-style clips against all class names (paper §3.4).

The paper pretrains UnLoc on Kinetics before every task; the official release has no config or code for it (its
`classification` path is unfinished, reference §4), so the clip-level score is our definition: the clip logit of
class c is the **mean of the level-0 relevancy logits of the (clip, class-prompt) pair over the valid frames**, the
same fused per-frame relevancy the localization heads produce, pooled over time. The loss is sigmoid binary
cross-entropy summed over classes and averaged over clips (multi-label: a clip's segments may carry several
classes). Which towers train is configuration (`TowerConfig.freeze_image=False`, `freeze_text=True` in the paper's
recipe), not code here.
"""

from __future__ import annotations

import torch
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.model.outputs import HeadOutputs
from unloc.ops.losses import sigmoid_bce
from unloc.tasks.prompting import ClassTask


def clip_logits(outputs: HeadOutputs) -> torch.Tensor:
    """(b, q) mean of the level-0 logits (b, q, t_0) over valid positions."""
    logits, mask = outputs.logits[0], outputs.masks[0]  # (b, q, t), (b, t)
    weights = mask[:, None, :].to(logits.dtype)
    return (logits * weights).sum(-1) / weights.sum(-1).clamp_min(1)


def multi_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(b, s) class indices (-1 = padding) -> (b, q) float targets in {0, 1}."""
    out = torch.zeros(labels.shape[0], num_classes + 1, device=labels.device)
    out.scatter_(1, torch.where(labels >= 0, labels, num_classes), 1.0)  # padding goes to a dropped column
    return out[:, :num_classes]


class VideoPretraining(ClassTask):
    """Loss and clip-level class scores of video pretraining (arguments: `ClassTask`; all class names)."""

    def step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """Multi-label BCE of the clip logits; also logs the top-1 accuracy of the batch."""
        logits = clip_logits(self.train_outputs(model, batch))  # (b, q)
        targets = multi_hot(batch.labels.to(logits.device), logits.shape[1])
        loss = sigmoid_bce(logits, targets).sum(-1).mean()
        top1 = targets.gather(1, logits.argmax(-1, keepdim=True)).mean()
        return {"loss": loss, "top1": top1.detach()}  # finiteness: the trainer's all-reduced check (all ranks stop)

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> list[dict]:
        """Per clip: {"video_id", "scores": (q,) probabilities (prompt-averaged logits -> sigmoid), "label", "score"}."""
        probs = clip_logits(self.eval_outputs(model, batch)).float().sigmoid().cpu()
        names = self.eval_prompts.class_names
        return [{"video_id": video_id, "scores": probs[i].numpy(), "label": names[int(probs[i].argmax())],
                 "score": float(probs[i].max())} for i, video_id in enumerate(batch.video_ids)]

    def merge(self, parts: list[list[dict]]) -> list[dict]:
        return [row for part in parts for row in part]


__all__ = ["VideoPretraining", "clip_logits", "multi_hot"]
