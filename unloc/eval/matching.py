"""Temporal IoU, greedy detection matching and interpolated AP: the ActivityNet detection rules, vectorized.

The official ActivityNet `eval_detection.py` (also used per query by QVHighlights' `standalone_eval`) walks the
predictions in score order; each one becomes a true positive at a tIoU threshold when its highest-tIoU ground truth of
the same video (or query) that is not yet matched reaches the threshold. AP is the VOC-2011 interpolated area under the
precision/recall curve. Here the walk runs once per prediction *rank* over all videos and thresholds at once, instead
of once per prediction in Python. Paper §4 (metrics): mAP at tIoU 0.5:0.05:0.95.

Tie rules (the official scripts inherit them from numpy/Python sorting; ours are fixed and documented):
- ground truths with equal tIoU: the later one in the ground-truth order is taken first (what the official
  `argsort()[::-1]` gives for up to 16 ground truths, where numpy's sort is stable);
- a zero-length prediction against a zero-length ground truth: the official code divides 0 by 0 and its matching
  then accepts the pair at every threshold; `segment_iou(official=True)` reproduces that (callers count it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# about 32 MiB of float64 per padded chunk (groups x predictions x ground truths)
_CHUNK_ELEMENTS = 1 << 22


def segment_iou(pred_sec: np.ndarray, gt_sec: np.ndarray, *, official: bool = False) -> np.ndarray:
    """Temporal IoU with the official operation order (bit-identical results on the same inputs).

    Args:
        pred_sec: (..., 2) [start, end] in seconds.
        gt_sec: (..., 2) [start, end], broadcast against `pred_sec`.
        official: reproduce the official scripts on degenerate pairs: 0/0 (a zero-length prediction against a
            zero-length ground truth) gives NaN there, which their matching takes before any other ground truth and
            accepts at every threshold; it is returned as +inf. Without it, a non-positive union gives 0.

    Returns:
        (...) intersection / union.
    """
    overlap = np.minimum(pred_sec[..., 1], gt_sec[..., 1]) - np.maximum(pred_sec[..., 0], gt_sec[..., 0])
    inter = np.clip(overlap, 0, None)
    union = (gt_sec[..., 1] - gt_sec[..., 0]) + (pred_sec[..., 1] - pred_sec[..., 0]) - inter
    if official:
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / union
        return np.where(np.isnan(iou), np.inf, iou)
    out = np.zeros(np.broadcast(inter, union).shape)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def zero_over_zero(pred_key: np.ndarray, pred_sec: np.ndarray, gt_key: np.ndarray, gt_sec: np.ndarray) -> np.ndarray:
    """Indices of the predictions whose IoU with a ground truth of their group is the official 0/0 (a zero union with
    no overlap: both zero-length, or a reversed window mirroring the ground truth's length)."""
    pred_len, gt_len = pred_sec[:, 1] - pred_sec[:, 0], gt_sec[:, 1] - gt_sec[:, 0]
    candidates = np.flatnonzero((pred_len <= 0) | np.isin(pred_key, gt_key[gt_len <= 0]))
    hits = [i for i in candidates if np.isinf(segment_iou(pred_sec[i], gt_sec[gt_key == pred_key[i]], official=True)).any()]
    return np.asarray(hits, dtype=int)


def greedy_match(tiou: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Greedy one-to-one matching of ranked predictions to ground truths, for many groups and thresholds at once.

    Args:
        tiou: (g, p, m) tIoU of each group's p predictions (in processing order) with its m ground truths;
            -inf marks padding (padded predictions never match, padded ground truths are never chosen).
        thresholds: (t,) tIoU thresholds.

    Returns:
        (g, t, p) bool, True where the prediction is a true positive at that threshold.
    """
    g, p, m = tiou.shape
    t = len(thresholds)
    locked = np.zeros((g, t, m), dtype=bool)
    tp = np.zeros((g, t, p), dtype=bool)
    rows, cols = np.arange(g)[:, None], np.arange(t)[None, :]
    for j in range(p):
        cand = np.where(locked, -np.inf, tiou[:, None, j, :])  # (g, t, m)
        best = m - 1 - np.argmax(cand[..., ::-1], axis=-1)  # highest tIoU, later ground truth on ties
        hit = np.take_along_axis(cand, best[..., None], axis=-1)[..., 0] >= thresholds
        tp[:, :, j] = hit
        locked[rows, cols, best] |= hit
    return tp


def _positions_in_groups(group_of: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Position of each item inside its group (items sorted by group) and the size of every group."""
    sizes = np.bincount(group_of, minlength=n_groups)
    starts = np.cumsum(sizes) - sizes
    return np.arange(len(group_of)) - starts[group_of], sizes


def match_groups(pred_key: np.ndarray, pred_sec: np.ndarray, gt_key: np.ndarray, gt_sec: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray:
    """True positives of predictions against ground truths of the same group (ActivityNet greedy rule).

    Args:
        pred_key: (n,) int group of each prediction (e.g. class * num_videos + video); predictions are given in
            processing order (score descending, ties already resolved by the caller).
        pred_sec: (n, 2) predicted [start, end].
        gt_key: (k,) int group of each ground truth, in ground-truth order.
        gt_sec: (k, 2) ground-truth [start, end].
        thresholds: (t,) tIoU thresholds.

    Returns:
        (t, n) bool true positives; predictions of groups without ground truth are false positives.
    """
    n, t = len(pred_key), len(thresholds)
    tp = np.zeros((t, n), dtype=bool)
    gt_order = np.argsort(gt_key, kind="stable")
    uniq, first, count = np.unique(gt_key[gt_order], return_index=True, return_counts=True)
    slot = np.clip(np.searchsorted(uniq, pred_key), 0, max(len(uniq) - 1, 0))
    has_gt = (uniq[slot] == pred_key) if len(uniq) else np.zeros(n, dtype=bool)
    m_of = np.where(has_gt, count[slot] if len(uniq) else 0, 0)

    # groups with one ground truth: the first prediction (in order) reaching the threshold is the only hit
    single = np.flatnonzero(m_of == 1)
    if len(single):
        one = single[np.argsort(slot[single], kind="stable")]
        tiou = segment_iou(pred_sec[one], gt_sec[gt_order[first[slot[one]]]], official=True)  # (n1,)
        ok = tiou[None, :] >= thresholds[:, None]  # (t, n1)
        _, start_idx = np.unique(slot[one], return_index=True)  # sorted, so groups are contiguous runs
        run = np.searchsorted(start_idx, np.arange(len(one)), side="right") - 1
        csum = np.cumsum(ok, axis=1)
        before = np.concatenate([np.zeros((t, 1), dtype=int), csum], axis=1)[:, start_idx][:, run]
        tp[:, one] = ok & (csum - before == 1)

    multi = np.flatnonzero(m_of > 1)
    if len(multi):
        tp[:, multi] = _match_multi(slot[multi], pred_sec[multi], first, count, gt_order, gt_sec, thresholds)
    return tp


def _match_multi(slot: np.ndarray, pred_sec: np.ndarray, first: np.ndarray, count: np.ndarray,
                 gt_order: np.ndarray, gt_sec: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """`match_groups` for groups with several ground truths: padded `greedy_match` in memory-bounded chunks."""
    t, n = len(thresholds), len(slot)
    out = np.zeros((t, n), dtype=bool)
    order = np.argsort(slot, kind="stable")  # group-major, processing order kept inside a group
    groups, group_of = np.unique(slot[order], return_inverse=True)
    pos, sizes = _positions_in_groups(group_of, len(groups))
    m_of = count[groups]
    by_size = np.argsort(-sizes, kind="stable")
    start = 0
    while start < len(by_size):
        p_max, m_max = sizes[by_size[start]], m_of[by_size[start:]].max()
        stop = start + max(1, _CHUNK_ELEMENTS // int(p_max * m_max))
        chunk = by_size[start:stop]
        m_max = m_of[chunk].max()
        local = np.full(len(groups), -1)
        local[chunk] = np.arange(len(chunk))
        sel = np.flatnonzero(local[group_of] >= 0)  # predictions of this chunk, in `order` positions
        preds = np.full((len(chunk), p_max, 2), np.nan)
        preds[local[group_of[sel]], pos[sel]] = pred_sec[order[sel]]
        gts = np.full((len(chunk), m_max, 2), np.nan)
        gt_pos = np.arange(m_max)[None, :]
        gt_ok = gt_pos < m_of[chunk][:, None]  # (g, m)
        gt_rows = gt_order[np.minimum(first[groups[chunk]][:, None] + gt_pos, len(gt_order) - 1)]
        gts[gt_ok] = gt_sec[gt_rows[gt_ok]]
        tiou = segment_iou(preds[:, :, None, :], gts[:, None, :, :], official=True)  # (g, p, m)
        pred_ok = np.arange(p_max)[None, :] < sizes[chunk][:, None]
        tiou = np.where(pred_ok[:, :, None] & gt_ok[:, None, :], tiou, -np.inf)
        hits = greedy_match(tiou, thresholds)  # (g, t, p)
        out[:, order[sel]] = hits[local[group_of[sel]], :, pos[sel]].T
        start = stop
    return out


def interpolated_ap(tp: np.ndarray, valid: np.ndarray, num_gt: np.ndarray) -> np.ndarray:
    """VOC-2011 interpolated AP (the ActivityNet `interpolated_prec_rec`) of ranked true/false positives.

    Args:
        tp: (..., n) bool true positives in ranking order.
        valid: (..., n) bool, False on trailing padding.
        num_gt: (...) number of ground truths (> 0).

    Returns:
        (...) AP: sum over recall steps of the step times the best precision at that recall or beyond.
    """
    tp = tp & valid
    tp_cum = np.cumsum(tp, axis=-1)
    seen = np.cumsum(valid, axis=-1)
    precision = np.where(valid, tp_cum / np.maximum(seen, 1), 0.0)
    recall = tp_cum / np.asarray(num_gt, dtype=float)[..., None]
    best_after = np.flip(np.maximum.accumulate(np.flip(precision, -1), axis=-1), -1)
    recall_step = np.diff(recall, axis=-1, prepend=0.0)
    return np.sum(recall_step * best_after, axis=-1)


def stack_padded(rows: Sequence[np.ndarray], width: int | None = None,
                 fill: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Stacks variable-length rows into one padded array.

    Args:
        rows: q arrays of shape (n_i, ...) with the same trailing shape.
        width: padded length; longer rows are cut (default: the longest row, at least 1).
        fill: value of the padding.

    Returns:
        padded: (q, width, ...); valid: (q, width) bool.
    """
    lengths = np.array([len(r) for r in rows], dtype=int)
    width = int(max(lengths.max(initial=0), 1)) if width is None else width
    kept = np.minimum(lengths, width)
    tail = next((r.shape[1:] for r in rows if len(r)), rows[0].shape[1:] if len(rows) else ())
    padded = np.full((len(rows), width, *tail), fill)
    valid = np.arange(width)[None, :] < kept[:, None]
    if kept.sum():
        flat = np.concatenate([r[:k] for r, k in zip(rows, kept)])
        padded[valid] = flat
    return padded, valid


def rank_padded(windows: Sequence[np.ndarray], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each query's (k, 3) [start, end, score] windows sorted by score, descending (equal scores keep file order).

    Returns:
        padded: (q, width, 2) [start, end] in rank order, NaN on padding; valid: (q, width) bool.
    """
    lengths = np.array([len(w) for w in windows], dtype=int)
    width = int(max(lengths.max(initial=0), 1)) if width is None else width
    flat = np.concatenate([w.reshape(-1, 3) for w in windows] + [np.zeros((0, 3))])
    query = np.repeat(np.arange(len(windows)), lengths)
    order = np.lexsort((np.arange(len(flat)), -flat[:, 2], query))  # query-major, then rank
    rank = np.arange(len(flat)) - (np.cumsum(lengths) - lengths)[query[order]]
    keep = rank < width
    padded = np.full((len(windows), width, 2), np.nan)
    padded[query[order][keep], rank[keep]] = flat[order][keep, :2]
    return padded, np.arange(width)[None, :] < np.minimum(lengths, width)[:, None]


def format_threshold(threshold: float) -> str:
    """Metric-key spelling of a threshold: 0.5 -> "0.5", 0.55 -> "0.55" (as QVHighlights' keys)."""
    return f"{float(threshold):.2f}".rstrip("0").rstrip(".")
