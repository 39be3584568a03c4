"""Localization quality as a function of the overlap threshold: recall-vs-IoU curves for moment retrieval and
mAP-vs-tIoU curves for temporal action localization.

The paper reports single thresholds (R@{1,5} at IoU 0.5/0.7, mAP at tIoU 0.5 and averaged over 0.5:0.05:0.95, §4);
the curves show where along the overlap axis a model gains or loses. Recall is computed with the same rules as the
official evaluators (`unloc.eval.moment_recall_metrics`): a query counts at threshold θ when any of its top-k windows
(by score) reaches IoU ≥ θ with any of its ground-truth windows; queries without a prediction are misses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from unloc.eval import moment_recall_metrics, read_mr_ground_truth, read_mr_predictions
from unloc.eval.matching import format_threshold
from unloc.study.figures.figure import finish, new_figure

DEFAULT_IOUS = np.arange(0.1, 1.0, 0.05)
# QVHighlights' moment-length groups (seconds); a query joins the group of its longest ground-truth window
LENGTH_GROUPS = (("short", 0.0, 10.0), ("middle", 10.0, 30.0), ("long", 30.0, float("inf")))
_MAP_KEY = re.compile(r"^mAP@(\d*\.?\d+)(_mean)?$")


def recall_vs_iou(gt_path: str | Path, pred_path: str | Path, thresholds: Sequence[float] = DEFAULT_IOUS,
                  k: Sequence[int] = (1, 5), fmt: str | None = None) -> pd.DataFrame:
    """Recall@k of a moment-retrieval submission at many IoU thresholds.

    Args:
        gt_path: ground truth (QVHighlights jsonl, Charades-STA txt or ActivityNet Captions json).
        pred_path: QVHighlights-style predictions jsonl (`qid`, `vid`, `pred_relevant_windows` [[s, e, score], ...]).
        thresholds: IoU thresholds in (0, 1]; rounded to 6 decimals (so np.arange's 0.35000000000000003 is 0.35)
            and distinct at two decimals.
        k: ranks.
        fmt: ground-truth format (detected when None).

    Returns:
        One row per threshold: `iou` and one column `R<k>` per rank, in percent. `attrs` holds `num_queries` and
        `num_predicted` (queries without a prediction count as misses).
    """
    ious = np.round(np.asarray(thresholds, dtype=float), 6)
    if ious.ndim != 1 or not len(ious) or ious.min() <= 0 or ious.max() > 1:
        raise ValueError(f"thresholds must be a non-empty list in (0, 1], got {thresholds!r}")
    names = [format_threshold(t) for t in ious]
    if len(set(names)) != len(names):
        raise ValueError(f"thresholds must differ at two decimals (metric keys), got {ious.tolist()}")
    if not k or min(k) < 1:
        raise ValueError(f"ranks k must be >= 1, got {k!r}")
    queries = read_mr_ground_truth(gt_path, fmt)
    by_qid = {p.qid: p.windows for p in read_mr_predictions(pred_path, queries)}
    metrics = moment_recall_metrics([q.windows_sec for q in queries], [by_qid.get(q.qid) for q in queries],
                                    ks=tuple(k), iou_thresholds=tuple(ious))
    frame = pd.DataFrame({"iou": ious, **{f"R{r}": [metrics[f"R{r}@{n}"] for n in names] for r in k}})
    frame.attrs.update(num_queries=len(queries), num_predicted=sum(q.qid in by_qid for q in queries))
    return frame


def recall_by_length(gt_path: str | Path, pred_path: str | Path, fmt: str | None = None,
                     groups: Sequence[tuple[str, float, float]] = LENGTH_GROUPS) -> pd.DataFrame:
    """R1 and R5 at IoU 0.5 / 0.7 per moment-length group (QVHighlights reports short / middle / long).

    Returns:
        One row per group: `group`, `seconds` (the range), `queries`, and `R1@0.5`, `R1@0.7`, `R5@0.5`, `R5@0.7` in
        percent (NaN for an empty group).
    """
    queries = read_mr_ground_truth(gt_path, fmt)
    by_qid = {p.qid: p.windows for p in read_mr_predictions(pred_path, queries)}
    longest = np.array([max(e - s for s, e in q.windows_sec) for q in queries])
    rows = []
    for name, lo, hi in groups:
        members = [q for q, length in zip(queries, longest) if lo <= length < hi]
        row = {"group": name, "seconds": f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">= {lo:g}", "queries": len(members)}
        keys = ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7")
        if members:
            metrics = moment_recall_metrics([q.windows_sec for q in members], [by_qid.get(q.qid) for q in members],
                                            ks=(1, 5), iou_thresholds=(0.5, 0.7))
            row.update({k: metrics[k] for k in keys})
        else:
            row.update(dict.fromkeys(keys, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def plot_recall_vs_iou(curves: Mapping[str, pd.DataFrame], out_path: str | Path | None = None,
                       title: str | None = None) -> Figure:
    """One panel per rank k (the `R<k>` columns of `recall_vs_iou` frames), one line per label."""
    if not curves:
        raise ValueError("plot_recall_vs_iou needs at least one curve")
    ranks = sorted({c for frame in curves.values() for c in frame.columns if re.fullmatch(r"R\d+", c)},
                   key=lambda c: int(c[1:]))
    if not ranks:
        raise ValueError("no R<k> column in the curves; build them with recall_vs_iou")
    fig, axes = new_figure(len(ranks), sharex=True)
    for ax, rank in zip(axes, ranks):
        for label, frame in curves.items():
            if rank in frame:
                ax.plot(frame["iou"], frame[rank], marker=".", label=label)
        for thr in (0.5, 0.7):  # the thresholds the paper reports
            ax.axvline(thr, color="0.6", linestyle="--", linewidth=0.8)
        ax.set(xlabel="IoU threshold", ylabel=f"R@{rank[1:]} (%)", ylim=(0, 100), title=f"recall@{rank[1:]}")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    return finish(fig, out_path, title=title or "moment retrieval: recall vs IoU threshold")


def map_by_tiou(metrics: Mapping[str, float]) -> pd.DataFrame:
    """The `mAP@t` entries of a metrics dict (or of a seed summary row: `mAP@t_mean` / `mAP@t_std`), by threshold.

    Returns:
        Columns `tiou`, `mAP`, `std` (NaN without a std), sorted by tIoU.
    """
    rows = []
    for key, value in metrics.items():
        match = _MAP_KEY.match(str(key))
        if match:
            std = metrics.get(f"mAP@{match.group(1)}_std", np.nan) if match.group(2) else np.nan
            rows.append((float(match.group(1)), float(value), float(std)))
    return pd.DataFrame(rows, columns=["tiou", "mAP", "std"]).sort_values("tiou").reset_index(drop=True)


def plot_map_vs_tiou(metrics_by_label: Mapping[str, Mapping[str, float]], out_path: str | Path | None = None,
                     title: str | None = None) -> Figure:
    """ActivityNet mAP at each tIoU threshold, one line per label (error bars where seeds give a std).

    Args:
        metrics_by_label: label -> a metrics dict with `mAP@0.5` ... keys (and `mAP_avg`), or a `seed_summary` row
            as a dict (`mAP@0.5_mean`, `mAP@0.5_std`, `mAP_avg_mean`).
        out_path: also write the PNG there.
        title: figure title.
    """
    if not metrics_by_label:
        raise ValueError("plot_map_vs_tiou needs at least one metrics dict")
    fig, (ax,) = new_figure(1)
    for label, metrics in metrics_by_label.items():
        curve = map_by_tiou(metrics)
        if curve.empty:
            raise ValueError(f"{label}: no 'mAP@<tIoU>' keys among {sorted(metrics)[:12]}")
        avg = metrics.get("mAP_avg", metrics.get("mAP_avg_mean"))
        name = f"{label} (avg {avg:.2f})" if avg is not None and np.isfinite(avg) else label
        yerr = curve["std"] if curve["std"].notna().any() else None
        ax.errorbar(curve["tiou"], curve["mAP"], yerr=yerr, marker="o", markersize=3, capsize=2, label=name)
    ax.set(xlabel="tIoU threshold", ylabel="mAP (%)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig, out_path, title=title or "temporal action localization: mAP vs tIoU")
