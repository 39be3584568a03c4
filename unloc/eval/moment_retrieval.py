"""Moment-retrieval metrics: R@{1,5} at IoU {0.3, 0.5, 0.7} and mean IoU in all formats, plus QVHighlights' own set.

Definitions (paper §4, moment retrieval; UnLoc's `compute_recall_at_k`):
- A query's windows are ranked by score (descending; equal scores keep file order). A query scores at R@k, IoU x when
  any of its top-k windows reaches IoU x with a ground-truth window. With several ground-truth windows (QVHighlights),
  reaching any one of them is a hit.
- mIoU is the mean over queries of the top-1 window's IoU with its best ground-truth window.
- Queries without a prediction count as misses (IoU 0), except with QVHighlights ground truth, whose official script
  refuses a submission that does not cover every query (an error here too). Ground truth is used as given.
All values are percentages. For QVHighlights ground truth the official `standalone_eval` metrics are added
(`unloc.eval.qvhighlights`). Input quirks are counted in `input_quirks` (`unloc.eval.quirks`; `strict` makes the
prediction file's quirks errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unloc.data.formats.quirks import input_error
from unloc.eval.inputs import paused_gc
from unloc.eval.matching import format_threshold, rank_padded, segment_iou, stack_padded
from unloc.eval.mr_inputs import MomentPrediction, MomentQuery, detect_mr_format, mr_format_name, read_mr_ground_truth
from unloc.eval.mr_submission import read_mr_predictions
from unloc.eval.quirks import QuirkLog
from unloc.eval.qvhighlights import qvhighlights_metrics

RECALL_KS = (1, 5)
RECALL_IOUS = (0.3, 0.5, 0.7)


def moment_recall_metrics(gt_windows: Sequence[np.ndarray], pred_windows: Sequence[np.ndarray | None],
                          ks: Sequence[int] = RECALL_KS,
                          iou_thresholds: Sequence[float] = RECALL_IOUS) -> dict[str, float]:
    """R@k at IoU thresholds and mean top-1 IoU, in percent.

    Args:
        gt_windows: per query an (m, 2) array of ground-truth [start, end] in seconds (m >= 1).
        pred_windows: per query a (k, 3) array [start, end, score] in any order, or None (a miss).
        ks: ranks to report.
        iou_thresholds: IoU thresholds (> 0).

    Returns:
        {"R1@0.3": ..., "R5@0.7": ..., "mIoU": ...}.
    """
    top, top_ok = rank_padded([np.zeros((0, 3)) if w is None else w for w in pred_windows], max(ks))  # (q, k, 2)
    gt, gt_ok = stack_padded([np.asarray(g, dtype=float).reshape(-1, 2) for g in gt_windows])  # (q, m, 2)
    iou = segment_iou(top[:, :, None, :], gt[:, None, :, :])  # (q, k, m)
    best = np.where(gt_ok[:, None, :], iou, -1.0).max(-1)  # (q, k)
    best = np.where(top_ok, best, -1.0)
    metrics = {}
    for k in ks:
        best_k = best[:, :k].max(-1)
        for thr in iou_thresholds:
            metrics[f"R{k}@{format_threshold(thr)}"] = 100.0 * float(np.mean(best_k >= thr)) if len(best) else 0.0
    metrics["mIoU"] = 100.0 * float(np.mean(np.maximum(best[:, 0], 0.0))) if len(best) else 0.0
    return metrics


@paused_gc()
def moment_retrieval_metrics(queries: Sequence[MomentQuery], predictions: Sequence[MomentPrediction], *,
                             official_qvhighlights: bool, log: QuirkLog | None = None) -> dict[str, object]:
    """All moment-retrieval metrics for parsed ground truth and predictions (see the module docstring).

    Args:
        queries: ground truth, one per query.
        predictions: at most one per query (missing queries are misses, counted as `pred.missing_id`).
        official_qvhighlights: also compute QVHighlights' official `MR-*` / `HL-*` metrics.
        log: collects input quirks.

    Returns:
        Flat dict of metrics plus `num_queries` and `num_predicted`; R@k and mIoU only when the predictions have
        windows.
    """
    log = log if log is not None else QuirkLog()
    by_qid = {p.qid: p for p in predictions}
    missing = [q for q in queries if q.qid not in by_qid]
    log.add_each("pred.missing_id", log.source, [("", f"qid {q.qid} ({q.vid}) has no prediction: a miss")
                                                 for q in missing[:3]], len(missing))
    matched = [by_qid.get(q.qid) for q in queries]
    metrics: dict[str, object] = {"num_queries": len(queries), "num_predicted": len(queries) - len(missing)}
    if any(p.windows is not None for p in predictions):
        metrics.update(moment_recall_metrics([q.windows_sec for q in queries],
                                             [None if p is None else p.windows for p in matched]))
    if official_qvhighlights:
        metrics.update(qvhighlights_metrics(queries, matched, log))
    return metrics


@paused_gc()
def evaluate_moment_retrieval(gt_path: str | Path, pred_path: str | Path, fmt: str | None = None, *,
                              strict: bool = False) -> dict[str, object]:
    """Evaluates a moment-retrieval submission file against a ground-truth file (no network, files as given).

    Args:
        gt_path: QVHighlights jsonl, Charades-STA txt or ActivityNet Captions json.
        pred_path: JSON lines `{"qid", "vid", "pred_relevant_windows", "pred_saliency_scores"?}`.
        fmt: one of `unloc.eval.mr_inputs.MR_FORMATS`; detected from the file when None.
        strict: every input quirk of the prediction file is an error.

    Returns:
        Metrics (percent), `format`, counts and `input_quirks` ({kind: {count, examples}}).

    Raises:
        EvalInputError: bad input, naming the file and line.
    """
    log = QuirkLog(strict=strict, source=str(pred_path))
    fmt = mr_format_name(fmt) or detect_mr_format(gt_path)
    queries = read_mr_ground_truth(gt_path, fmt, log)
    predictions = read_mr_predictions(pred_path, queries, log, fmt=fmt)
    qvh = fmt == "qvhighlights"
    if qvh:
        have = {p.qid for p in predictions}
        missing = [q for q in queries if q.qid not in have]
        if missing:
            raise input_error(pred_path, "", f"{len(missing)} ground-truth queries have no line, e.g. qid "
                                             f"{missing[0].qid}: the official QVHighlights script refuses a submission "
                                             "that does not cover every query (write an empty window list for a miss)")
    if all(p.windows is None for p in predictions) and (not qvh or all(p.saliency is None for p in predictions)):
        raise input_error(pred_path, "line 1", "no 'pred_relevant_windows' (nor 'pred_saliency_scores' for "
                                               "QVHighlights): nothing to evaluate")
    metrics: dict[str, object] = {"format": fmt}
    metrics.update(moment_retrieval_metrics(queries, predictions, official_qvhighlights=qvh, log=log))
    metrics["input_quirks"] = log.as_dict()
    return metrics
