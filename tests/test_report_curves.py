"""unloc.study.figures.curves: reading history.jsonl (including the "nan" strings the run log writes) and the loss figure."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from unloc.study.figures.curves import plot_training_curves, read_history


def _history(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _records(losses, box=True):
    rows = []
    for i, loss in enumerate(losses, start=1):
        row = {"step": i, "epoch": 0, "lr": 0.1 * i, "loss": loss, "cls_loss": loss, "samples_per_sec": 5.0}
        if box:
            row["box_loss"] = 0.5
        rows.append(row)
    return rows


def test_read_history_sorts_and_parses_non_finite(tmp_path):
    path = _history(tmp_path / "h.jsonl", [{"step": 2, "loss": "nan"}, {"step": 1, "loss": 3, "lr": 0.1}])
    hist = read_history(path, ["loss", "lr", "box_loss"])
    assert list(hist.columns) == ["step", "loss", "lr"]  # keys the file lacks are left out
    assert hist["step"].tolist() == [1.0, 2.0] and hist["loss"].iloc[0] == 3.0 and np.isnan(hist["loss"].iloc[1])
    assert np.isnan(hist["lr"].iloc[1])  # a record without the key


def test_read_history_errors_name_file_and_record(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training history"):
        read_history(tmp_path / "missing.jsonl")
    path = _history(tmp_path / "a.jsonl", [{"step": 1, "loss": 1.0}, {"loss": 2.0}])
    with pytest.raises(ValueError, match=r"a.jsonl: record 2: no 'step'"):
        read_history(path, ["loss"])
    path = _history(tmp_path / "b.jsonl", [{"step": 1, "loss": "big"}])
    with pytest.raises(ValueError, match=r"b.jsonl: record 1: 'loss' must be a number"):
        read_history(path, ["loss"])


def test_plot_training_curves_smoothing_and_notes(tmp_path):
    run_a = _history(tmp_path / "a" / "history.jsonl", _records([1.0, 2.0, 3.0, 4.0]))
    run_b = _history(tmp_path / "b" / "history.jsonl", _records([4.0, "nan", 1.0, 0.0], box=False))
    out = tmp_path / "figs" / "curves.png"
    fig = plot_training_curves({"A": run_a, "B": run_b}, smooth=2, show_lr=True, out_path=out)
    assert isinstance(fig, Figure) and out.stat().st_size > 1000
    loss_ax, cls_ax, box_ax, lr_ax = fig.axes  # three panels and the twin lr axis
    assert loss_ax.get_yscale() == "log" and lr_ax.get_ylabel().startswith("learning rate")
    assert cls_ax.get_ylabel() == "cls_loss" and box_ax.get_ylabel() == "box_loss"
    smoothed_a = loss_ax.get_lines()[1]  # raw A (faint), smoothed A, raw B, smoothed B
    np.testing.assert_allclose(smoothed_a.get_ydata(), [1.0, 1.5, 2.5, 3.5])
    smoothed_b = np.asarray(loss_ax.get_lines()[3].get_ydata(), dtype=float)
    np.testing.assert_allclose(smoothed_b, [4.0, 4.0, 1.0, 0.5])  # NaN left out of the window; 0 averaged in
    assert "2 non-finite/non-positive not shown" in loss_ax.get_title()
    assert "absent in: B" in box_ax.get_title()
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), [0.1, 0.2, 0.3, 0.4])
    assert "moving average over 2 steps" in fig.get_suptitle()


def test_plot_training_curves_errors(tmp_path):
    run = _history(tmp_path / "history.jsonl", _records([1.0, 2.0], box=False))
    with pytest.raises(ValueError, match=r"no history has \['box_loss'\]"):
        plot_training_curves({"A": run})
    with pytest.raises(ValueError, match="smooth"):
        plot_training_curves({"A": run}, keys=("loss",), smooth=0)
    with pytest.raises(ValueError, match="at least one"):
        plot_training_curves({})
    fig = plot_training_curves({"A": run}, keys=("loss",))
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1
