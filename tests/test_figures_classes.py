"""Per-class AP bars and the frame confusion matrix (hand-counted)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from unloc.study.figures.classes import confusion_matrix, plot_confusion, plot_per_class_ap


def test_confusion_counts_by_hand():
    true = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 0, 2])
    assert confusion_matrix(true, pred, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(true, pred[:3], 3)


def test_figures_write_pngs(tmp_path):
    aps = {"red circle": 50.0, "blue star": 90.0, "pink square": 0.8}  # percent, as per_class_ap.json holds them
    fig = plot_per_class_ap(aps, tmp_path / "ap.png", highlight=["blue star"])
    assert isinstance(fig, Figure) and (tmp_path / "ap.png").stat().st_size > 0
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 1) for b in bars] == [90.0, 50.0, 0.8]  # best first, a small AP stays small
    plot_confusion(confusion_matrix([0, 1], [1, 1], 2), ["background", "step"], tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
