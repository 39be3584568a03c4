"""Average precision of scored items with tied scores grouped: highlight-detection AP and frame-level AP.

Both QVHighlights' highlight AP (`standalone_eval` `get_ap`, built on scikit-learn's `precision_recall_curve`) and the
per-class frame AP of action segmentation (scikit-learn's `average_precision_score`, used by UnLoc's COIN metric) rank
the items by score and treat items with equal scores as one threshold. Both are computed here for many rows at once
(rows = query x annotator, or classes) without scikit-learn. Paper §4: QVHighlights HD mAP, COIN frame mAP.
"""

from __future__ import annotations

import numpy as np


def _tie_blocks(labels: np.ndarray, scores: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorts every row by score (descending) and describes its blocks of tied scores.

    Args:
        labels: (r, n) 0/1 relevance.
        scores: (r, n) scores.
        valid: (r, n) bool, False on padding (sorted to the end).

    Returns:
        precision: (r, n) precision at each sorted position when that position closes a block, else 0.
        positives: (r, n) number of relevant items in the block a closing position closes, else 0.
        closes: (r, n) bool, True at the last valid position of each block.
    """
    key = np.where(valid, -scores.astype(float), np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    key_s = np.take_along_axis(key, order, axis=-1)
    y_s = np.take_along_axis(np.where(valid, labels, 0), order, axis=-1).astype(float)
    valid_s = np.take_along_axis(valid, order, axis=-1)
    r, n = labels.shape
    next_differs = np.concatenate([key_s[:, 1:] != key_s[:, :-1], np.ones((r, 1), dtype=bool)], axis=1)
    closes = valid_s & (next_differs | ~np.concatenate([valid_s[:, 1:], np.zeros((r, 1), dtype=bool)], axis=1))
    tp_cum = np.cumsum(y_s, axis=-1)
    rank = np.arange(1, n + 1)[None, :]
    precision = np.where(closes, tp_cum / rank, 0.0)
    closed_tp = np.where(closes, tp_cum, 0.0)
    prev_closed = np.concatenate([np.zeros((r, 1)), np.maximum.accumulate(closed_tp, axis=-1)[:, :-1]], axis=1)
    positives = np.where(closes, tp_cum - prev_closed, 0.0)
    return precision, positives, closes


def saliency_ap(labels: np.ndarray, scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """QVHighlights highlight AP per row: the mean interpolated precision over thresholds that add recall.

    A row whose valid labels are all 0 scores 0 and one whose valid labels are all 1 scores 1, as in the official
    `get_ap`. Interpolated precision at a threshold is the best precision at that threshold or any lower one.

    Args:
        labels: (r, n) 0/1 clip relevance of one annotator.
        scores: (r, n) predicted saliency.
        valid: (r, n) bool, False on padding.

    Returns:
        (r,) AP in [0, 1].
    """
    precision, positives, _ = _tie_blocks(labels, scores, valid)
    best_after = np.flip(np.maximum.accumulate(np.flip(precision, -1), axis=-1), -1)
    adds_recall = positives > 0
    n_steps = adds_recall.sum(-1)
    ap = np.where(adds_recall, best_after, 0.0).sum(-1) / np.maximum(n_steps, 1)
    n_valid = valid.sum(-1)
    n_pos = np.where(valid, labels, 0).sum(-1)
    return np.where(n_pos == 0, 0.0, np.where(n_pos == n_valid, 1.0, ap))


def frame_ap(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Non-interpolated AP per row (scikit-learn `average_precision_score`): sum of recall steps x precision.

    Args:
        labels: (r, n) 0/1 relevance (e.g. one row per class over all frames).
        scores: (r, n) scores.

    Returns:
        (r,) AP in [0, 1]; NaN for rows without a relevant item.
    """
    valid = np.ones(labels.shape, dtype=bool)
    precision, positives, _ = _tie_blocks(labels, scores, valid)
    n_pos = labels.sum(-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, (positives * precision).sum(-1) / n_pos, np.nan)
