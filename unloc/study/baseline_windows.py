"""The windows of the trivial moment-retrieval and temporal-localization baselines: random windows, and the
training set's typical windows (its mean relative length at the best constant positions), in seconds."""

from __future__ import annotations

import numpy as np

PRIOR_POSITIONS = 5  # windows per query (MR) or per class and video (TAL) of `prior_windows`
_PRIOR_GRID = 101  # candidate window centres, as fractions of the video


def random_windows(rng: np.random.Generator, duration_sec: float, n: int) -> np.ndarray:
    """(n, 3) [start_sec, end_sec, score] rows, best score first: length uniform in (0, duration], start uniform in
    [0, duration - length], score uniform in [0, 1)."""
    length_sec = duration_sec * (1.0 - rng.random(n))  # 1 - U[0, 1) lies in (0, 1]
    start_sec = rng.random(n) * (duration_sec - length_sec)
    score = rng.random(n)
    rows = np.stack([start_sec, start_sec + length_sec, score], axis=1)
    return rows[np.argsort(-score, kind="stable")]


def iou_1d(window: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """(n,) temporal IoU of one [start, end] window with each of the (n, 2) spans."""
    inter = np.clip(np.minimum(window[1], spans[:, 1]) - np.maximum(window[0], spans[:, 0]), 0.0, None)
    return inter / (window[1] - window[0] + spans[:, 1] - spans[:, 0] - inter)


def prior_positions(spans: np.ndarray, n: int = PRIOR_POSITIONS) -> np.ndarray:
    """The strongest constant guess a training set allows: windows of its mean relative length at fixed positions.

    Args:
        spans: (m, 2) training windows as fractions [start, end] of their video's duration.
        n: how many windows to return.

    Returns:
        (n, 2) windows in [0, 1], best first: the one whose centre (on a grid of 101 centres, the window kept inside
        [0, 1]) reaches IoU >= 0.5 with the most training spans, then greedily the centres that hit the most training
        spans none of the earlier windows hit (ties: more hits in all, then the earlier centre).
    """
    if not len(spans):
        raise ValueError("no training window to take a length and position prior from")
    length = float(np.mean(spans[:, 1] - spans[:, 0]))
    centres = np.unique(np.round(np.clip(np.linspace(0.0, 1.0, _PRIOR_GRID), length / 2, 1.0 - length / 2), 9))
    candidates = np.stack([centres - length / 2, centres + length / 2], axis=1)  # (G, 2)
    hits = np.stack([iou_1d(w, spans) >= 0.5 for w in candidates])  # (G, m)
    chosen, covered = [], np.zeros(len(spans), dtype=bool)
    for _ in range(min(n, len(candidates))):
        gain = (hits & ~covered).sum(axis=1) * (len(spans) + 1) + hits.sum(axis=1)  # new hits, then all hits
        gain[chosen] = -1
        best = int(np.argmax(gain))
        chosen.append(best)
        covered |= hits[best]
    return candidates[chosen]
