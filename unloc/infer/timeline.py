"""A timeline figure of localization results over frame thumbnails, in the style of the paper's Fig. 3.

A strip of frames sampled evenly over the video sits on the time axis; below it, one row per query or class holds
its predicted segments (more opaque = higher score) and, when given, a ground-truth row right above it (hatched).
`plot_timeline` takes what `unloc.infer.localize.localize` returns, or plain (label, start_sec, end_sec[, score]) rows, so
the study notebooks can draw a dataset video's ground truth against a run's predictions too. It draws on a bare
matplotlib `Figure` (Agg canvas), so it touches no global pyplot state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from unloc.data.video import VideoFile, frames_at_times

Row = tuple[str, float, float, float | None]  # label, start_sec, end_sec, score (None = no score)
MAX_LABEL_CHARS = 40


def timeline_rows(predictions: dict[str, Any] | Iterable[Any]) -> list[Row]:
    """Flatten predictions into (label, start_sec, end_sec, score) rows.

    Args:
        predictions: a `localize` result (MR rows are labelled by their query), a list of dicts with "label",
            "start_sec", "end_sec" and optional "score", or tuples (label, start_sec, end_sec[, score]).

    Returns:
        The rows in input order.
    """
    if isinstance(predictions, dict):
        if predictions.get("mode") == "mr":
            return [(p["query"], s["start_sec"], s["end_sec"], s["score"])
                    for p in predictions["predictions"] for s in p["segments"]]
        predictions = predictions["predictions"]
    rows = []
    for i, p in enumerate(predictions):
        if isinstance(p, dict):
            p = (p["label"], p["start_sec"], p["end_sec"], p.get("score"))
        if len(p) not in (3, 4):
            raise ValueError(f"prediction {i}: expected (label, start_sec, end_sec[, score]), got {p!r}")
        label, start, end = str(p[0]), float(p[1]), float(p[2])
        score = None if len(p) == 3 or p[3] is None else float(p[3])
        if end < start:
            raise ValueError(f"prediction {i} ({label!r}) ends at {end} before it starts at {start}")
        rows.append((label, start, end, score))
    return rows


def _row_order(pred: list[Row], truth: list[Row]) -> list[tuple[str, bool]]:
    """(label, is_ground_truth) per drawn row: labels by best predicted score, then ground-truth-only labels; a
    label's ground-truth row comes right above its prediction row."""
    best: dict[str, float] = {}
    for label, _, _, score in pred:
        best[label] = max(best.get(label, -1.0), -1.0 if score is None else score)
    labels = sorted(best, key=lambda k: -best[k]) + [k for k in dict.fromkeys(r[0] for r in truth) if k not in best]
    has_truth = {r[0] for r in truth}
    return [(label, gt) for label in labels for gt in (True, False) if (gt and label in has_truth) or
            (not gt and label in best)]


def _thumbnails(ax, video: VideoFile, duration_sec: float, n_thumbs: int) -> None:
    """n frames at the centres of n equal slices of the video, each drawn over its slice of the time axis."""
    edges = np.linspace(0.0, duration_sec, n_thumbs + 1)
    idx = frames_at_times(video.frame_times_sec()[:, 0], (edges[:-1] + edges[1:]) / 2)
    for frame, lo, hi in zip(video.read(idx).numpy(), edges[:-1], edges[1:]):
        ax.imshow(frame, extent=(lo, hi, 0, 1), aspect="auto", interpolation="bilinear")
    ax.set_ylim(0, 1)
    ax.set_yticks([])


def plot_timeline(video_path: str | os.PathLike, predictions: dict[str, Any] | Sequence[Any],
                  out_png: str | os.PathLike, *, ground_truth: Sequence[Sequence[Any]] | None = None,
                  n_thumbs: int = 8, max_rows: int = 12, title: str | None = None) -> Path:
    """Draw thumbnails, predicted segments and optional ground truth on one time axis and save a PNG.

    Args:
        video_path: the video the predictions are about (thumbnails and duration come from it).
        predictions: a `localize` result or rows accepted by `timeline_rows`.
        out_png: output file (parent folders are created).
        ground_truth: (label, start_sec, end_sec) rows; a label equal to a prediction row's (a class name, or the
            query text for MR) is drawn just above it.
        n_thumbs: frames in the thumbnail strip.
        max_rows: at most this many rows (the best-scored labels); the title counts the rest.
        title: figure title (default: the video file name).

    Returns:
        The PNG path.
    """
    if n_thumbs < 1 or max_rows < 1:
        raise ValueError(f"need n_thumbs >= 1 and max_rows >= 1, got {n_thumbs}, {max_rows}")
    video = VideoFile(video_path)
    duration = float(video.duration_sec)
    pred = timeline_rows(predictions)
    truth = [(label, start, end, None) for label, start, end, _ in timeline_rows(list(ground_truth or ()))]
    order = _row_order(pred, truth)
    hidden, order = max(len(order) - max_rows, 0), order[:max_rows]
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(label for label, _ in order))}
    fig = Figure(figsize=(10, 1.6 + 0.35 * max(len(order), 1)), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.3, 0.35 * max(len(order), 1)])
    _thumbnails(top, video, duration, n_thumbs)
    for y, (label, gt) in enumerate(order):
        for row_label, start, end, score in truth if gt else pred:
            if row_label != label:
                continue
            alpha = 0.9 if score is None else 0.15 + 0.85 * min(max(score, 0.0), 1.0)
            bottom.broken_barh([(start, max(end - start, duration * 1e-3))], (-y - 0.4, 0.8), facecolors=colours[label],
                               alpha=alpha, hatch="//" if gt else None, edgecolor="black" if gt else "none")
    if not order:
        bottom.text(0.5, 0.5, "no predictions", transform=bottom.transAxes, ha="center", va="center")
    names = [("GT: " if gt else "") + (label if len(label) <= MAX_LABEL_CHARS else label[:MAX_LABEL_CHARS - 1] + "…")
             for label, gt in order]
    bottom.set_yticks([-y for y in range(len(order))], names, fontsize=8)
    bottom.set_ylim(-max(len(order), 1) + 0.4, 0.6)
    bottom.set_xlim(0, duration)
    bottom.set_xlabel("time (s)")
    bottom.grid(axis="x", alpha=0.3)
    name = title if title is not None else Path(video_path).name
    fig.suptitle(name + (f"  (+{hidden} more rows)" if hidden else ""), fontsize=10)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out


__all__ = ["plot_timeline", "timeline_rows"]
