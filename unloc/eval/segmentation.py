"""Action-segmentation metrics: frame accuracy with background, frame-level mAP, Edit and F1@{10,25,50}.

Frame accuracy and mAP follow UnLoc's COIN evaluation (paper §4, `metrics.frame_accuracy` and scikit-learn's
`average_precision_score`): a frame is predicted as background when its best class score is at or below
`background_threshold` (0 for logits; the official code uses `<=`), otherwise as its arg-max class; accuracy counts
frames whose prediction equals the label (background included), pooled over all videos; mAP averages, over classes with
at least one positive frame, the AP of that class's scores over all frames of all videos.
Edit and F1@k follow the MS-TCN / ASFormer `eval.py` that segmentation papers report: background segments are left out;
segment ends are the next segment's first frame, except the video's last segment, which ends at the last frame index
(their quirk, kept so numbers compare); Edit is the normalised Levenshtein score of the segment label sequences averaged
over videos; F1 pools true/false positives over videos, a predicted segment being a true positive when its best-IoU
same-label ground-truth segment (IoU over the two segments' hull) reaches the overlap and is not yet taken.
Labels are class indices with -1 for background. All values are percentages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unloc.data.formats.quirks import input_error
from unloc.eval.inputs import paused_gc
from unloc.eval.quirks import QuirkLog
from unloc.eval.ranking import frame_ap
from unloc.eval.seg_submission import read_segmentation_predictions
from unloc.eval.segmentation_inputs import read_class_list, read_segmentation_ground_truth

BACKGROUND = -1
F1_OVERLAPS = (0.1, 0.25, 0.5)
_AP_CHUNK_ELEMENTS = 1 << 21  # frames x classes per chunk of the mAP computation (about 200 MB peak)


def predicted_labels(scores: np.ndarray, background_threshold: float = 0.0) -> np.ndarray:
    """Per-frame labels from class scores.

    Args:
        scores: (t, q) class scores (logits or probabilities).
        background_threshold: a frame whose best score is <= this is background.

    Returns:
        (t,) int labels, -1 for background.
    """
    if scores.shape[1] == 0:
        return np.full(len(scores), BACKGROUND)
    return np.where(scores.max(axis=1) <= background_threshold, BACKGROUND, scores.argmax(axis=1))


def label_segments(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-background runs of a label sequence, with MS-TCN's boundaries.

    Args:
        labels: (t,) int labels (t >= 1), -1 = background.

    Returns:
        seg_labels, starts, ends: (s,) each; ends are exclusive except the last run of the video, which ends at t - 1.
    """
    labels = np.asarray(labels)
    if len(labels) == 0:
        return labels, np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels) - 1]])
    keep = labels[starts] != BACKGROUND
    return labels[starts][keep], starts[keep], ends[keep]


def edit_score(pred_labels: np.ndarray, gt_labels: np.ndarray) -> float:
    """Normalised segmental edit score (100 = same segment label sequence).

    When neither sequence has a segment the score is 100 (MS-TCN's division would give NaN).
    """
    p, y = label_segments(pred_labels)[0], label_segments(gt_labels)[0]
    if len(p) < len(y):
        p, y = y, p  # the distance is symmetric; iterate over the shorter sequence
    if len(y) == 0:
        return 100.0 if len(p) == 0 else 0.0
    row = np.arange(len(p) + 1, dtype=float)  # distances from y[:0] to every prefix of p
    idx = np.arange(len(p) + 1, dtype=float)
    for j, label in enumerate(y, start=1):
        diag = row[:-1] + (p != label)
        step = np.concatenate([[j], np.minimum(row[1:] + 1, diag)])
        row = np.minimum.accumulate(step - idx) + idx  # insertions along the row: new[i] = min_k step[k] + (i - k)
    return float((1.0 - row[-1] / max(len(p), len(y))) * 100.0)


def f1_counts(pred_labels: np.ndarray, gt_labels: np.ndarray, overlaps: Sequence[float] = F1_OVERLAPS) -> np.ndarray:
    """MS-TCN segmental true positives, false positives and false negatives of one video.

    Returns:
        (len(overlaps), 3) float counts [tp, fp, fn].
    """
    p_lab, p_start, p_end = label_segments(pred_labels)
    y_lab, y_start, y_end = label_segments(gt_labels)
    out = np.zeros((len(overlaps), 3))
    if len(y_lab) == 0:
        out[:, 1] = len(p_lab)
        return out
    inter = np.minimum(p_end[:, None], y_end[None, :]) - np.maximum(p_start[:, None], y_start[None, :])
    hull = np.maximum(p_end[:, None], y_end[None, :]) - np.minimum(p_start[:, None], y_start[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = (inter / hull) * (p_lab[:, None] == y_lab[None, :])  # (s_pred, s_gt); 0/0 stays NaN, as in MS-TCN
    best = np.argmax(iou, axis=1) if len(p_lab) else np.zeros(0, dtype=int)  # first NaN or first maximum
    best_iou = iou[np.arange(len(p_lab)), best]
    for i, overlap in enumerate(overlaps):
        ok = best_iou >= overlap
        tp = len(np.unique(best[ok]))  # only the first prediction claiming a ground-truth segment scores
        out[i] = (tp, len(p_lab) - tp, len(y_lab) - tp)
    return out


def segmentation_metrics(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], *,
                         background_threshold: float = 0.0,
                         overlaps: Sequence[float] = F1_OVERLAPS) -> dict[str, float]:
    """All segmentation metrics over a set of videos.

    Args:
        labels: per video (t,) int ground-truth labels, -1 = background.
        scores: per video (t, q) class scores (same t as its labels).
        background_threshold: see `predicted_labels`.
        overlaps: F1 IoU overlaps.

    Returns:
        {"frame_accuracy", "mAP" (None without any positive frame), "num_classes_in_mAP", "edit", "F1@10",
        "F1@25", "F1@50"} (percent).
    """
    preds = [predicted_labels(s, background_threshold) for s in scores]
    all_labels = np.concatenate([np.asarray(y) for y in labels])
    counts = sum((f1_counts(p, y, overlaps) for p, y in zip(preds, labels)), np.zeros((len(overlaps), 3)))
    accuracy = 100.0 * float(np.mean(np.concatenate(preds) == all_labels))
    edit = float(np.mean([edit_score(p, y) for p, y in zip(preds, labels)]))
    metrics: dict[str, float | int | None] = {"frame_accuracy": accuracy, "mAP": None, "num_classes_in_mAP": 0,
                                              "edit": edit}
    for (tp, fp, fn), overlap in zip(counts, overlaps):
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics[f"F1@{round(overlap * 100)}"] = 100.0 * f1
    ap = class_frame_ap(all_labels, np.concatenate(scores, axis=0))
    if np.isfinite(ap).any():
        metrics["mAP"] = 100.0 * float(np.nanmean(ap))
        metrics["num_classes_in_mAP"] = int(np.isfinite(ap).sum())
    return metrics


def class_frame_ap(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-class frame AP over pooled frames.

    Args:
        labels: (n,) int labels, -1 = background.
        scores: (n, q) class scores.

    Returns:
        (q,) AP in [0, 1], NaN for classes without a positive frame.
    """
    n, q = scores.shape
    ap = np.full(q, np.nan)
    present = np.unique(labels[labels >= 0])
    step = max(1, _AP_CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, len(present), step):
        classes = present[lo:lo + step]
        rows = (labels[None, :] == classes[:, None]).astype(float)  # (c, n)
        ap[classes] = frame_ap(rows, scores[:, classes].T)
    return ap


@paused_gc()
def evaluate_segmentation(gt_path: str | Path, pred_path: str | Path, *, fps: float | None = None,
                          split: str | None = None, classes_path: str | Path | None = None,
                          background_threshold: float = 0.0, strict: bool = False) -> dict[str, object]:
    """Evaluates per-frame class scores against segmentation ground truth (`segmentation_inputs`, `seg_submission`).

    Args:
        gt_path: COIN json (needs `fps`) or per-frame label arrays (.npz / json).
        pred_path: per-frame scores (.npz / json).
        fps: frame rate at which the COIN ground truth is sampled.
        split: COIN subset to evaluate (None: every video of the file).
        classes_path: class list giving the column order (COIN taxonomy csv or one id per line).
        background_threshold: see `predicted_labels`.
        strict: every input quirk of the prediction file is an error.

    Returns:
        Metrics of `segmentation_metrics`, counts and `input_quirks`.

    Raises:
        EvalInputError: bad input, naming the file and video.
    """
    log = QuirkLog(strict=strict, source=str(pred_path))
    classes = read_class_list(classes_path) if classes_path else None
    gt = read_segmentation_ground_truth(gt_path, fps=fps, split=split, classes=classes, log=log)
    if not gt.labels:
        raise input_error(gt_path, "", f"no videos to evaluate (split {split!r})")
    scores = read_segmentation_predictions(pred_path, gt, log)
    q = scores[0].shape[1]
    for vid, y in gt.labels.items():
        bad = np.flatnonzero((y < BACKGROUND) | (y >= q))
        if len(bad):
            raise input_error(gt_path, f"video {vid!r} frame {bad[0]}", f"label {y[bad[0]]} outside [-1, {q}) classes")
    n_frames = int(sum(len(y) for y in gt.labels.values()))
    metrics: dict[str, object] = {"num_videos": len(gt.labels), "num_frames": n_frames, "num_classes": q}
    metrics.update(segmentation_metrics(list(gt.labels.values()), scores, background_threshold=background_threshold))
    metrics["input_quirks"] = log.as_dict()
    return metrics
