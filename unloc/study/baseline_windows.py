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


CLASS_PRIOR_WINDOWS = 20  # windows per class and video of `class_prior_windows`
CLASS_PRIOR_SHRINKAGE = 10.0  # pseudo-spans drawn from the pooled training spans that each class's spans are mixed with
_LENGTHS = 30  # candidate window lengths, log-spaced over [1 %, 100 %] of the video
_CENTRE_STEP = 0.25  # candidate centres every quarter window length


def window_candidates() -> np.ndarray:
    """(G, 2) candidate windows as fractions [start, end] of the video: 30 lengths log-spaced from 0.01 to 1, each at
    centres a quarter of its length apart, spread evenly from the left edge to the right edge."""
    rows = []
    for length in np.geomspace(0.01, 1.0, _LENGTHS):
        n = int(np.ceil((1.0 - length) / (_CENTRE_STEP * length))) + 1
        starts = np.linspace(0.0, 1.0 - length, n)
        rows.append(np.stack([starts, starts + length], axis=1))
    return np.unique(np.round(np.concatenate(rows), 9), axis=0)


def covering_windows(candidates: np.ndarray, spans: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """The n candidates that, chosen greedily, hit (IoU >= 0.5) the most weight of training spans not hit before.

    Args:
        candidates: (G, 2) windows; spans: (m, 2) training spans; weights: (m,) weight of each span.
        n: how many windows at most (fewer when no candidate hits a new span).

    Returns:
        (k, 3) [start, end, gain] rows in choice order, gain = the weight of the spans it hit first (non-increasing);
        ties: the higher IoU-weighted gain (the window that fits the spans it hits best), then the earlier candidate.
    """
    inter = np.clip(np.minimum(candidates[:, None, 1], spans[None, :, 1])
                    - np.maximum(candidates[:, None, 0], spans[None, :, 0]), 0.0, None)  # (G, m)
    union = (candidates[:, 1] - candidates[:, 0])[:, None] + (spans[:, 1] - spans[:, 0])[None, :] - inter
    iou = inter / union  # (G, m)
    hits = (iou >= 0.5).astype(np.float64)
    rows, open_ = [], np.ones(len(spans))
    for _ in range(n):
        gain = hits @ (weights * open_)  # (G,)
        if gain.max() <= 1e-12:
            break
        fit = (iou * hits) @ (weights * open_)
        best = int(np.lexsort((np.arange(len(gain)), -fit, -np.round(gain, 12)))[0])
        rows.append([*candidates[best], gain[best]])
        open_ *= 1.0 - hits[best]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def class_prior_windows(spans: np.ndarray, labels: list[str], names: list[str], n_videos: int,
                        n: int = CLASS_PRIOR_WINDOWS, shrinkage: float = CLASS_PRIOR_SHRINKAGE) -> dict[str, np.ndarray]:
    """The windows of each class that a training set's span statistics alone predict, scored as expected hits.

    A class's span distribution is its own training spans mixed with `shrinkage` pseudo-spans spread evenly over all
    training spans (weights ([label == class] + shrinkage / m) / (n_class + shrinkage)): a class with few training
    segments leans on the pooled spans, a class without any (zero-shot: an unseen class) takes the pooled spans
    alone. The windows are `covering_windows` of that distribution over `window_candidates`, and each scores the
    expected number of the class's segments per video it hits first: the class's segments per training video
    (classes without training segments: the mean over the training classes) times the window's gain.

    Args:
        spans: (m, 2) training segments as fractions [start, end] of their video; labels: their m class names.
        names: the classes to predict; n_videos: training videos the spans come from.
        n: windows per class; shrinkage: pseudo-spans of the pooled distribution (0: the class's spans alone).

    Returns:
        {name: (k, 3) [start, end, score] rows, fractions of the video, best first}.
    """
    if not len(spans) or n_videos <= 0:
        raise ValueError("no training segment to take a class span prior from")
    labels_arr = np.asarray(labels)
    candidates = window_candidates()
    counts = {name: int((labels_arr == name).sum()) for name in names}
    mean_rate = len(spans) / n_videos / len(set(labels))
    out = {}
    for name in names:
        own = (labels_arr == name).astype(np.float64)
        if counts[name]:
            weights = (own + shrinkage / len(spans)) / (counts[name] + shrinkage)
        else:
            weights = np.full(len(spans), 1.0 / len(spans))  # the pooled spans alone
        rate = counts[name] / n_videos if counts[name] else mean_rate
        rows = covering_windows(candidates, spans, weights, n)
        out[name] = rows * np.array([1.0, 1.0, rate])
    return out
