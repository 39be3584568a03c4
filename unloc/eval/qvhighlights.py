"""QVHighlights' official metrics (moment_detr `standalone_eval/eval.py`), same key names, same rounding.

Moment retrieval (paper §4, QVHighlights):
- `MR-full-R1@{0.5,0.7}`: the *first listed* predicted window (not the top-scored one) against the ground-truth window
  it overlaps most; IoU here is intersection over the hull of the two windows, as in the official code.
- `MR-{full,short,middle,long}-mAP` (+ `MR-full-mAP@{0.5,0.75}`): per query, ActivityNet AP of its first 10 listed
  windows at IoU 0.50:0.05:0.95, averaged over queries. Buckets keep the ground-truth windows whose length l is in
  (0, 10], (10, 30] or (30, 150] seconds, and the queries that keep at least one; `full` keeps everything.
Highlight detection (`HL-min-{Fair,Good,VeryGood}-{mAP,Hit1}`): a clip is positive for an annotator when its score is
at least 2 / 3 / 4; mAP averages the per-annotator AP of the saliency ranking over queries and annotators, Hit1 is the
share of queries whose top-scored clip is positive for at least one annotator.
Values are percent rounded to 2 decimals. A query with an empty window list counts as a miss (AP 0, IoU 0; the official
script stops on it); a query on several submission lines is pooled as the official script does (MR-mAP reads the first
10 windows of every line, R1 and HL the last line). Both are counted by the submission reader (`mr_submission`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unloc.eval.matching import format_threshold, greedy_match, interpolated_ap, rank_padded, segment_iou, stack_padded
from unloc.eval.mr_inputs import MomentPrediction, MomentQuery
from unloc.eval.mr_submission import MAX_PRED_WINDOWS
from unloc.eval.quirks import QuirkLog
from unloc.eval.ranking import saliency_ap

MR_IOUS = np.array([float(f"{x:.2f}") for x in np.linspace(0.5, 0.95, 10)])
LENGTH_BUCKETS = {"full": (0.0, 150.0), "short": (0.0, 10.0), "middle": (10.0, 30.0), "long": (30.0, 150.0)}
HL_MIN_SCORES = {"Fair": 2, "Good": 3, "VeryGood": 4}


def _round_pct(value: float) -> float | None:
    """The official formatting: percent with 2 decimals via string formatting; NaN (empty bucket) -> None."""
    rounded = float(f"{100 * value:.2f}")
    return None if np.isnan(rounded) else rounded


def mr_average_precision(gt: Sequence[np.ndarray], preds: Sequence[np.ndarray]) -> np.ndarray:
    """Per-query ActivityNet AP of ranked windows at `MR_IOUS`.

    Args:
        gt: per query (m, 2) ground-truth windows (m >= 1), in file order.
        preds: per query (k, 3) [start, end, score] windows, k may be 0.

    Returns:
        (q, t) AP in [0, 1].
    """
    pred_pad, pred_ok = rank_padded(preds)  # (q, p, 2), as Python's stable sort by -score
    gt_pad, gt_ok = stack_padded(gt)  # (q, m, 2)
    tiou = segment_iou(pred_pad[:, :, None, :], gt_pad[:, None, :, :], official=True)  # (q, p, m)
    tiou = np.where(pred_ok[:, :, None] & gt_ok[:, None, :], tiou, -np.inf)
    tp = greedy_match(tiou, MR_IOUS)  # (q, t, p)
    return interpolated_ap(tp, pred_ok[:, None, :], gt_ok.sum(-1)[:, None])


def _r1_iou(first: np.ndarray, gt: Sequence[np.ndarray]) -> np.ndarray:
    """(q,) hull-IoU of each query's first window (q, 2) (NaN row = none) with the ground truth it overlaps most."""
    gt_pad, gt_ok = stack_padded(gt)  # (q, m, 2)
    overlap = np.where(gt_ok, segment_iou(first[:, None, :], gt_pad, official=True), -np.inf)  # (q, m)
    target = gt_pad[np.arange(len(gt)), np.argmax(overlap, axis=1)]  # (q, 2), first maximum as np.argmax
    inter = np.maximum(0.0, np.minimum(first[:, 1], target[:, 1]) - np.maximum(first[:, 0], target[:, 0]))
    hull = np.maximum(first[:, 1], target[:, 1]) - np.minimum(first[:, 0], target[:, 0])
    iou = np.divide(inter, hull, out=np.zeros(len(gt)), where=hull != 0)
    return np.where(np.isnan(first[:, 0]), 0.0, iou)


def _moment_metrics(queries: Sequence[MomentQuery], kept_windows: Sequence[np.ndarray], first: np.ndarray) -> dict:
    """`MR-*` metrics; `kept_windows` are the (k, 3) windows MR-mAP reads per query (at most `MAX_PRED_WINDOWS` per
    submission line, in file order), `first` (q, 2) the window R1 reads (NaN: none)."""
    metrics = {}
    for name, (lo, hi) in LENGTH_BUCKETS.items():
        gt, pr = [], []
        for query, windows in zip(queries, kept_windows):
            lengths = query.windows_sec[:, 1] - query.windows_sec[:, 0]
            keep = np.ones(len(lengths), bool) if name == "full" else (lengths > lo) & (lengths <= hi)
            if keep.any():
                gt.append(query.windows_sec[keep])
                pr.append(windows)
        with np.errstate(invalid="ignore"):
            ap_t = mr_average_precision(gt, pr).mean(0) if gt else np.full(len(MR_IOUS), np.nan)
        metrics[f"MR-{name}-mAP"] = _round_pct(ap_t.mean())
        if name == "full":
            for thr in (0.5, 0.75):
                metrics[f"MR-full-mAP@{format_threshold(thr)}"] = _round_pct(ap_t[np.flatnonzero(MR_IOUS == thr)[0]])
            iou = _r1_iou(first, [q.windows_sec for q in queries])
            for thr in (0.5, 0.7):
                metrics[f"MR-full-R1@{format_threshold(thr)}"] = _round_pct(np.mean(iou >= thr))
    return metrics


def _highlight_metrics(queries: Sequence[MomentQuery], preds: Sequence[MomentPrediction | None]) -> dict:
    n_clips = np.array([len(q.saliency) for q in queries])
    gt, clip_ok = stack_padded([q.saliency for q in queries], fill=0.0)  # (q, c, 3)
    raw = [np.zeros(0) if p is None or p.saliency is None else p.saliency for p in preds]
    scores = np.zeros(clip_ok.shape)  # (q, c): the official zero-pads / truncates predictions to the clip count
    for i, s in enumerate(raw):
        n = min(len(s), n_clips[i])
        scores[i, :n] = s[:n]
    top_clip = np.array([np.argmax(s) if len(s) else -1 for s in raw])  # first maximum over the full list
    has_top = (top_clip >= 0) & (top_clip < n_clips)
    metrics = {}
    for name, min_score in HL_MIN_SCORES.items():
        positive = gt >= min_score  # (q, c, 3)
        top_positive = positive[np.arange(len(queries)), np.where(has_top, top_clip, 0)].any(-1) & has_top
        labels = np.moveaxis(positive, -1, 1).reshape(-1, positive.shape[1])  # (q*3, c)
        ap = saliency_ap(labels, np.repeat(scores, 3, axis=0), np.repeat(clip_ok, 3, axis=0))
        scored = [p is not None and p.saliency is not None for p in preds]
        ap = np.where(np.repeat(scored, 3), ap, 0.0)  # a query without saliency scores: AP 0
        metrics[f"HL-min-{name}-mAP"] = _round_pct(np.mean(ap))
        metrics[f"HL-min-{name}-Hit1"] = _round_pct(np.mean(top_positive))
    return metrics


def qvhighlights_metrics(queries: Sequence[MomentQuery], preds: Sequence[MomentPrediction | None],
                         log: QuirkLog | None = None) -> dict[str, float | None]:
    """The official `brief` metrics of moment_detr's `standalone_eval/eval.py`.

    Args:
        queries: QVHighlights ground truth (with saliency for the `HL-*` keys).
        preds: the prediction of each query, aligned with `queries`, None when missing (a miss).
        log: collects input quirks.

    Returns:
        `MR-*` keys when the predictions carry windows, `HL-*` keys when they carry `pred_saliency_scores`.
    """
    log = log if log is not None else QuirkLog()
    metrics: dict[str, float | None] = {}
    if any(p is not None and p.windows is not None for p in preds):
        kept = [np.zeros((0, 3)) if p is None or p.windows is None else
                p.ap_windows if p.ap_windows is not None else p.windows[:MAX_PRED_WINDOWS] for p in preds]
        first = np.array([p.windows[0, :2] if p is not None and p.windows is not None and len(p.windows)
                          else [np.nan, np.nan] for p in preds]).reshape(-1, 2)
        metrics.update(_moment_metrics(queries, kept, first))
    if not any(p is not None and p.saliency is not None for p in preds):
        return metrics
    if any(q.saliency is None for q in queries):
        log.add("gt.no_saliency", "<ground truth>", "", "the ground truth has no saliency_scores; HL-* metrics skipped")
        return metrics
    metrics.update(_highlight_metrics(queries, preds))
    return metrics
