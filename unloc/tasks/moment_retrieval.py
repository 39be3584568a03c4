"""Moment retrieval: every video against every caption of the global batch (paper §3, §4.1; reference §2.1, §2.3).

Training (`TaskConfig.mr_pairs='batch'`, official moment retrieval) fuses each video with every caption of the batch
and, under data parallelism, of every rank: the caption token ids (not features) are gathered, as the official code
gathers its text tokens, so each rank runs the text tower on all captions and DDP averages the tower's gradients. The
target of pair (video i, caption j) is caption j's windows when caption j describes video i (compared by video id, so
two captions of one video, or one video twice in the batch, are never false negatives), else all-negative. The focal
loss is normalised over all valid (video, caption, position) triples (official `all_gather_loss`); the box loss only
sees positives, which exist only in matching pairs; under DDP each rank averages the box loss over its own positives
and the trainer averages the ranks (the official code takes one global mean, equal when ranks hold as many
positives). The negatives and the normaliser are those of one micro-step, so gradient accumulation would shrink them:
`ExperimentConfig` refuses `grad_accum_steps > 1` with 'batch' pairs. `mr_pairs='own'` is the official QVHighlights
objective (highlight detection): each caption is fused with its own video only, as one class, and the focal loss is
normalised over the (pair, position) cells, like temporal localization with one class. Prediction runs each video
with its own captions, Soft-NMS per caption, and QVHighlights saliency.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.ops.segments import sec_to_units, units_to_sec
from unloc.tasks.base import decode_outputs, kept_rows, localization_step, run_nms
from unloc.tasks.config import TaskConfig
from unloc.train.distributed import all_gather_objects, world_info

CLIP_SEC = 2.0  # QVHighlights saliency clips


def gather_captions(batch: TaskBatch) -> tuple[torch.Tensor, list[str], torch.Tensor, torch.Tensor]:
    """Every rank's captions, in rank order: ids (Q, n), owner video ids (Q), windows_sec (Q, m, 2), mask (Q, m)."""
    owners = [batch.video_ids[i] for i in batch.text_video_idx.tolist()]
    local = (batch.text, owners, batch.windows_sec, batch.windows_mask)
    if world_info().world_size == 1:
        return local
    parts = all_gather_objects(tuple(x.cpu() if isinstance(x, torch.Tensor) else x for x in local))
    m = max(p[2].shape[1] for p in parts)
    windows = torch.cat([nn.functional.pad(p[2], (0, 0, 0, m - p[2].shape[1])) for p in parts])
    masks = torch.cat([nn.functional.pad(p[3], (0, m - p[3].shape[1])) for p in parts])
    device = batch.text.device
    return (torch.cat([p[0] for p in parts]).to(device), [o for p in parts for o in p[1]], windows.to(device),
            masks.to(device))


def pair_segments(video_ids: list[str], owners: list[str], windows_sec: torch.Tensor, windows_mask: torch.Tensor,
                  sec_per_unit: torch.Tensor, t0_sec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth of every (video, caption) pair as segments labelled by caption index.

    Args:
        video_ids: b ids of the batch's videos; owners: Q ids, the video each caption describes.
        windows_sec: (Q, m, 2) caption windows in seconds; windows_mask: (Q, m).
        sec_per_unit, t0_sec: (b,) time map of each video.

    Returns:
        segments (b, Q*m, 2) in each video's level-0 units and labels (b, Q*m): caption j where caption j describes
        video i and window k is real, else -1.
    """
    b, q = len(video_ids), len(owners)
    match = torch.tensor([[vid == owner for owner in owners] for vid in video_ids], dtype=torch.bool,
                         device=windows_sec.device).reshape(b, q)
    spu = sec_per_unit.to(windows_sec)[:, None, None, None]
    t0 = t0_sec.to(windows_sec)[:, None, None, None]
    units = sec_to_units(windows_sec[None], spu, t0)  # (b, Q, m, 2)
    valid = match[:, :, None] & windows_mask[None]  # (b, Q, m)
    caption = torch.arange(q, device=windows_sec.device)[None, :, None].expand_as(valid)
    labels = torch.where(valid, caption, -1)
    return rearrange(units, "b q m two -> b (q m) two").float(), rearrange(labels, "b q m -> b (q m)")


def clip_saliency(probs: torch.Tensor, times_sec: torch.Tensor, valid: torch.Tensor, duration_sec: float,
                  clip_sec: float = CLIP_SEC) -> torch.Tensor:
    """Per clip of `clip_sec` seconds, the highest relevancy of the level-0 positions shown inside it.

    Clips are [k·clip_sec, (k+1)·clip_sec) for k < int(duration / clip_sec), the QVHighlights layout. A clip that no
    position falls in (coarse sampling) takes the value of the position nearest its centre.

    Args:
        probs: (c, t) relevancy of c captions at t positions; times_sec: (t,) time of each position; valid: (t,).

    Returns:
        (c, K) saliency scores.
    """
    k = max(int(duration_sec / clip_sec + 1e-6), 1)
    times, p = times_sec[valid].to(probs.dtype), probs[:, valid]  # (t',), (c, t')
    clip = torch.floor(times / clip_sec).long()
    inside = (clip >= 0) & (clip < k)
    out = probs.new_full((probs.shape[0], k), -math.inf)
    out.scatter_reduce_(1, clip[inside].expand(probs.shape[0], -1), p[:, inside], reduce="amax")
    centres = (torch.arange(k, device=probs.device, dtype=probs.dtype) + 0.5) * clip_sec
    nearest = (times[None, :] - centres[:, None]).abs().argmin(dim=1)  # (K,)
    return torch.where(torch.isfinite(out), out, p[:, nearest])


class MomentRetrieval:
    """Targets, loss and QVHighlights-style predictions of moment retrieval.

    Args:
        cfg: task settings (`saliency` adds `pred_saliency_scores`).
    """

    def __init__(self, cfg: TaskConfig) -> None:
        self.cfg = cfg

    def step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """Loss over all (video, caption) pairs of the global batch, or over each caption's own pair ('own')."""
        if self.cfg.mr_pairs == "own":
            return self._own_pairs_step(model, batch)
        text, owners, windows, windows_mask = gather_captions(batch)
        outputs = model(batch.video, text, batch.video_mask)  # logits (b, Q, t_l)
        segments, labels = pair_segments(batch.video_ids, owners, windows, windows_mask, batch.sec_per_unit,
                                         batch.t0_sec)
        return localization_step(outputs, segments, labels, len(owners), self.cfg, per_query_normalizer=True)

    def _own_pairs_step(self, model: nn.Module, batch: TaskBatch) -> dict[str, torch.Tensor]:
        """Each caption with its own video (no negatives): one class, targets its own windows."""
        owner = batch.text_video_idx
        outputs = model(batch.video, batch.text, batch.video_mask, pair_video_idx=owner)  # logits (Q, 1, t_l)
        spu = batch.sec_per_unit[owner.to(batch.sec_per_unit.device)].to(batch.windows_sec)[:, None, None]
        t0 = batch.t0_sec[owner.to(batch.t0_sec.device)].to(batch.windows_sec)[:, None, None]
        segments = sec_to_units(batch.windows_sec, spu, t0).float()  # (Q, m, 2) in the owner's level-0 units
        labels = torch.where(batch.windows_mask, 0, -1)  # (Q, m): class 0 = relevant, -1 = padding
        return localization_step(outputs, segments, labels, 1, self.cfg)

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> list[dict]:
        """One QVHighlights submission row per caption: {"qid", "vid", "pred_relevant_windows": [[s, e, score], ...]
        (best first, after Soft-NMS per caption), "pred_saliency_scores"?: per 2 s clip}."""
        rows = []
        for i, video_id in enumerate(batch.video_ids):
            mine = torch.nonzero(batch.text_video_idx == i)[:, 0]
            if not len(mine):
                continue
            outputs = model(batch.video[i:i + 1], batch.text[mine], batch.video_mask[i:i + 1])  # (1, c, t_l)
            probs, segments, valid = decode_outputs(outputs, batch.sec_per_unit[i:i + 1], batch.t0_sec[i:i + 1],
                                                    batch.duration_sec[i:i + 1])
            c = len(mine)
            result = run_nms(segments[0], probs[0], valid.expand(c, -1), self.cfg.nms)  # captions as rows
            if self.cfg.saliency:
                t = outputs.masks[0].shape[1]
                times = units_to_sec(torch.arange(t, device=probs.device, dtype=torch.float64),
                                     float(batch.sec_per_unit[i]), float(batch.t0_sec[i]))
                saliency = clip_saliency(outputs.logits[0][0].float().sigmoid(), times, outputs.masks[0][0],
                                         float(batch.duration_sec[i]))
            for j, caption in enumerate(mine.tolist()):
                row = {"qid": batch.query_ids[caption], "vid": video_id,
                       "pred_relevant_windows": [[s, e, score] for s, e, score, _ in kept_rows(result, j)]}
                if self.cfg.saliency:
                    row["pred_saliency_scores"] = saliency[j].tolist()
                rows.append(row)
        return rows

    def merge(self, parts: list[list[dict]]) -> list[dict]:
        """All rows, one per query (the JSON lines of a submission file)."""
        return [row for part in parts for row in part]


__all__ = ["MomentRetrieval", "clip_saliency", "gather_captions", "pair_segments"]
