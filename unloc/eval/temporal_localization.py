"""Temporal action localization: ActivityNet-1.3 detection mAP at tIoU 0.50:0.05:0.95, as official `eval_detection.py`.

Official semantics kept (paper §4, ActivityNet-1.3): classes are the labels of the ground truth of the evaluated subset
(after leaving out blocked videos), indexed in order of first appearance; each class's predictions are ranked by score
and matched greedily (`unloc.eval.matching`); AP is interpolated; mAP is the mean over those classes; the reported
average is the mean over the 10 thresholds. A prediction for a video outside the subset is a false positive (counted
warning); predictions for blocked videos are dropped (counted). Blocked videos come from a local file, never from the
network. Input quirks (`unloc.eval.quirks`) are handled as in `unloc.eval.tal_submission` and counted in
`input_quirks`; `strict` makes each an error. Equal scores: the prediction later in the file is ranked first (what the
official `argsort()[::-1]` gives with a stable sort). Values are percentages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unloc.data.formats import fileio
from unloc.eval.inputs import paused_gc, read_json
from unloc.eval.matching import format_threshold, interpolated_ap, match_groups, zero_over_zero
from unloc.eval.quirks import QuirkLog
from unloc.eval.tal_inputs import Detections, read_anet_ground_truth, read_blocked
from unloc.eval.tal_submission import read_anet_predictions

TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def detection_average_precision(gt: Detections, pred: Detections, num_classes: int,
                                thresholds: np.ndarray = TIOU_THRESHOLDS) -> np.ndarray:
    """Per-class AP of scored detections (ActivityNet rules).

    Args:
        gt: ground-truth segments (in ground-truth order; matters only for tIoU ties).
        pred: predicted segments with scores, in file order.
        num_classes: q.
        thresholds: (t,) tIoU thresholds.

    Returns:
        (t, q) AP in [0, 1]; NaN for classes without ground truth.
    """
    n = len(pred.class_idx)
    order = np.lexsort((-np.arange(n), -pred.scores, pred.class_idx))  # class, then score desc, later first on ties
    n_videos = int(max(gt.video_idx.max(initial=-1), pred.video_idx.max(initial=-1))) + 1
    pred_class = pred.class_idx[order]
    tp = match_groups(pred_class * n_videos + pred.video_idx[order], pred.segments_sec[order],
                      gt.class_idx * n_videos + gt.video_idx, gt.segments_sec, thresholds)  # (t, n)
    num_gt = np.bincount(gt.class_idx, minlength=num_classes)
    bounds = np.searchsorted(pred_class, np.arange(num_classes + 1))
    ap = np.where(num_gt > 0, 0.0, np.nan)[None, :].repeat(len(thresholds), axis=0)  # (t, q)
    for c in np.flatnonzero((num_gt > 0) & (bounds[1:] > bounds[:-1])):
        hits = tp[:, bounds[c]:bounds[c + 1]]
        ap[:, c] = interpolated_ap(hits, np.ones_like(hits), np.full(len(thresholds), num_gt[c]))
    return ap


@paused_gc()
def activitynet_detection_metrics(ground_truth: dict | None, submission: dict, *, split: str = "validation",
                                  blocked: set[str] = frozenset(), gt_source: str = "<ground truth>",
                                  pred_source: str = "<predictions>", log: QuirkLog | None = None) -> dict[str, object]:
    """mAP of an ActivityNet submission (parsed JSON) against ActivityNet ground truth (parsed JSON).

    Args:
        ground_truth: `{"database": {id: {"subset", "annotations": [{"segment", "label"}]}}, "taxonomy"?: [...]}`
            (or BSN's layout), read by `unloc.data.formats.activitynet13` as given; None reads the file `gt_source`.
        submission: `{"results": {id: [{"label", "score", "segment": [s, e]}]}}`.
        split: subset to evaluate.
        blocked: video ids to leave out of both.
        gt_source / pred_source: names used in messages.
        log: collects input quirks (default: a fresh, lenient one).

    Returns:
        `mAP@0.5` ... `mAP@0.95`, `mAP_avg` (percent), `per_class_AP` {label: {threshold: AP, "avg": AP}}, counts and
        `input_quirks`.
    """
    log = log if log is not None else QuirkLog(source=pred_source)
    truth = read_anet_ground_truth(gt_source, split, set(blocked), log, data=ground_truth)
    gt, classes = truth.segments, truth.classes
    pred = read_anet_predictions(submission, truth, set(blocked), pred_source, log)
    ap = detection_average_precision(gt, pred, len(classes))  # (t, q)
    n_v = int(max(gt.video_idx.max(initial=-1), pred.video_idx.max(initial=-1))) + 1
    hits = zero_over_zero(pred.class_idx * n_v + pred.video_idx, pred.segments_sec,
                          gt.class_idx * n_v + gt.video_idx, gt.segments_sec)
    detail = "meets a ground truth with a 0/0 tIoU: matched at every threshold, as official"
    log.add_each("pred.zero_length_match", pred_source,
                 [("", f"segment {pred.segments_sec[k].tolist()} of class {classes[pred.class_idx[k]]!r} {detail}")
                  for k in hits[:3]], len(hits))
    keys = [format_threshold(t) for t in TIOU_THRESHOLDS]
    metrics: dict[str, object] = {"split": split, "num_videos": len(truth.videos), "num_classes": len(classes),
                                  "num_ground_truth": len(gt.class_idx), "num_predictions": len(pred.class_idx)}
    metrics.update({f"mAP@{k}": 100.0 * float(v) for k, v in zip(keys, ap.mean(axis=1))})
    metrics["mAP_avg"] = 100.0 * float(ap.mean(axis=1).mean())
    metrics["per_class_AP"] = {name: {**{k: 100.0 * float(v) for k, v in zip(keys, ap[:, c])},
                                      "avg": 100.0 * float(ap[:, c].mean())} for c, name in enumerate(classes)}
    metrics["input_quirks"] = log.as_dict()
    return metrics


@paused_gc()
def evaluate_temporal_localization(gt_path: str | Path, pred_path: str | Path, split: str = "validation",
                                   blocked_path: str | Path | None = None, *, strict: bool = False
                                   ) -> dict[str, object]:
    """Evaluates an ActivityNet-1.3 submission file (see `activitynet_detection_metrics`); no network access.

    Args:
        strict: every input quirk of the prediction file is an error.

    Raises:
        EvalInputError: bad input, naming the file and record.
    """
    log = QuirkLog(strict=strict, source=str(pred_path))
    blocked = read_blocked(blocked_path) if blocked_path else set()
    ground_truth = fileio.read_json(gt_path)  # first: a bad ground truth stops before a 50 MB submission is parsed
    submission = read_json(pred_path, log)
    return activitynet_detection_metrics(ground_truth, submission, split=split, blocked=blocked, gt_source=str(gt_path),
                                         pred_source=str(pred_path), log=log)
