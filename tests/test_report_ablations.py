"""unloc.study.report.ablations: bar heights, seed error bars, value labels and "not run" slots from a seed summary."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from unloc.study.report.ablations import default_families, plot_ablation_bars, setting_row, short_name
from unloc.study.report.io import seed_summary
from unloc.study.report.paper import ABLATION_FAMILIES


def _summary(label_prefix=""):
    runs = pd.DataFrame({
        "stage": [label_prefix + s for s in ["loss_l1"] * 3 + ["loss_iou"] * 2 + ["pyramid_fpn"]],
        "R1@0.5": [1.0, 2.0, 4.0, 10.0, 12.0, 7.0],
    })
    return seed_summary(runs, "stage")


def test_default_families_cover_every_ablation_name():
    families = default_families()
    names = [s for settings in families.values() for s in settings]
    assert len(names) == len(set(names)) == 22
    assert families == {f: spec["settings"] for f, spec in ABLATION_FAMILIES.items()}
    assert short_name("loss_l1_iou") == "l1_iou" and short_name("towers_frozen_frozen") == "frozen_frozen"


def test_plot_ablation_bars_heights_errors_and_labels(tmp_path):
    out = tmp_path / "figs" / "ablations.png"
    fig = plot_ablation_bars(_summary("ablations."), "R1@0.5", label_col="stage", out_path=out)
    assert out.stat().st_size > 1000
    loss_ax, pyramid_ax = fig.axes  # only the families with runs
    assert loss_ax.get_title() == "regression loss" and pyramid_ax.get_title() == "pyramid"
    bars = [c for c in loss_ax.containers if isinstance(c, BarContainer)]
    assert [b.patches[0].get_height() for b in bars] == pytest.approx([7 / 3, 11.0])
    errors = [c for c in loss_ax.containers if isinstance(c, ErrorbarContainer)]
    half_span = [np.ptp(e.lines[2][0].get_segments()[0][:, 1]) / 2 for e in errors]
    assert half_span == pytest.approx([np.sqrt(7 / 3), np.sqrt(2.0)])
    texts = [t.get_text() for t in loss_ax.texts]
    assert "2.3 ± 1.5" in texts and "11.0 ± 1.4" in texts
    assert texts.count("not run") == 2  # loss_l1_iou, loss_diou
    assert [t.get_text() for t in loss_ax.get_xticklabels()] == ["l1", "iou", "l1_iou", "diou"]
    pyramid_bars = [c for c in pyramid_ax.containers if isinstance(c, BarContainer)]
    assert len(pyramid_bars) == 1 and not [c for c in pyramid_ax.containers if isinstance(c, ErrorbarContainer)]
    assert [t.get_text() for t in pyramid_ax.texts].count("7.0") == 1  # one seed: no spread shown


def test_plot_ablation_bars_custom_families_and_errors():
    summary = _summary()
    fig = plot_ablation_bars(summary, "R1@0.5", {"mine": ["loss_iou", "loss_l1"]}, label_col="stage")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["iou", "l1"]
    with pytest.raises(KeyError, match="summarised metrics"):
        plot_ablation_bars(summary, "mAP_avg", label_col="stage")
    with pytest.raises(ValueError, match="no ablation setting"):
        plot_ablation_bars(summary, "R1@0.5", {"x": ["heads_1"]}, label_col="stage")
    with pytest.raises(KeyError, match="label column"):
        plot_ablation_bars(summary, "R1@0.5")  # default label_col "name" is not in this summary
    doubled = pd.concat([summary, summary.assign(stage="ablations." + summary["stage"])])
    with pytest.raises(ValueError, match="matches 2 summary rows"):
        setting_row(doubled, "stage", "loss_l1")
