"""Per-class views of a class task: AP per class as bars (temporal localization), and a confusion matrix of steps
over frames (action segmentation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from unloc.study.figures.figure import finish, new_figure


def plot_per_class_ap(per_class: Mapping[str, float], out_path: str | Path | None = None,
                      highlight: Sequence[str] = (), title: str | None = None,
                      labels: tuple[str, str] = ("seen in training", "unseen (held out)")) -> Figure:
    """One bar per class, best first; `per_class` maps a class to its AP in percent (as `per_class_ap.json` holds
    it); `highlight` classes (e.g. unseen ones) are drawn in another colour, named by `labels` (plain, highlighted)
    in a legend."""
    if not per_class:
        raise ValueError("plot_per_class_ap needs at least one class")
    names = sorted(per_class, key=lambda n: -float(per_class[n]))
    values = [float(per_class[n]) for n in names]
    fig, (ax,) = new_figure(1, panel_size=(max(4.8, 0.45 * len(names)), 3.6))
    marked = set(highlight)
    ax.bar(range(len(names)), values, color=["C1" if n in marked else "C0" for n in names])
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="AP (%)", ylim=(0, 100))
    ax.grid(True, axis="y", alpha=0.3)
    if marked & set(names):
        ax.legend(handles=[Patch(color="C0", label=labels[0]), Patch(color="C1", label=labels[1])], fontsize=8)
    return finish(fig, out_path, title=title or "average precision per class")


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """(n_labels, n_labels) counts: row = true label, column = predicted label (labels 0..n_labels-1)."""
    true, predicted = np.asarray(true, dtype=int), np.asarray(predicted, dtype=int)
    if true.shape != predicted.shape:
        raise ValueError(f"true and predicted labels differ in shape: {true.shape} vs {predicted.shape}")
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], out_path: str | Path | None = None,
                   title: str | None = None) -> Figure:
    """Row-normalised confusion matrix (each true label's frames sum to 1) as an image with labelled axes."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = max(4.0, 0.32 * len(labels))
    fig, (ax,) = new_figure(1, panel_size=(size + 1.0, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set(xlabel="predicted", ylabel="true")
    fig.colorbar(image, ax=ax, shrink=0.7, label="share of the true label's frames")
    return finish(fig, out_path, title=title or "confusion over frames")
