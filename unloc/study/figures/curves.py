"""Training curves from `train/history.jsonl`: losses against the optimizer step on a log scale, several runs overlaid.

Each history line is one update (`step`, `epoch`, `lr`, `loss`, `cls_loss`, `box_loss`, ...; written by
`unloc.train.runlog`, which stores non-finite numbers as the strings "nan"/"inf"). One panel per loss term (the paper's
relevancy and regression terms, §3.3), optionally with the learning-rate schedule on a twin axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from unloc.study.figures.figure import finish, new_figure
from unloc.train.runlog import read_jsonl

_NON_FINITE = {"nan", "inf", "-inf", "infinity", "-infinity"}


def _number(value: object, path: Path, line: int, key: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{path}: record {line}: {key!r} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() in _NON_FINITE:
        return float(value)
    raise ValueError(f"{path}: record {line}: {key!r} must be a number, got {value!r}")


def read_history(path: str | Path, keys: Sequence[str] = ()) -> pd.DataFrame:
    """A history file as a frame sorted by step, with the float columns `step` and `keys` that the file has.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a record without `step`, or a non-number value (naming file and record).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training history")
    columns: dict[str, list[float]] = {"step": []}
    records = read_jsonl(path)
    present = [k for k in keys if any(k in r for r in records)]
    for key in present:
        columns[key] = []
    for line, record in enumerate(records, start=1):
        if "step" not in record:
            raise ValueError(f"{path}: record {line}: no 'step'")
        for key, values in columns.items():
            values.append(_number(record[key], path, line, key) if key in record else np.nan)
    return pd.DataFrame(columns).sort_values("step", kind="stable").reset_index(drop=True)


def _smoothed(values: pd.Series, window: int) -> pd.Series:
    finite = values.where(np.isfinite(values))
    return finite.rolling(window, min_periods=1).mean() if window > 1 else finite


def plot_training_curves(history_paths: Mapping[str, str | Path], keys: Sequence[str] = ("loss", "cls_loss", "box_loss"),
                         *, smooth: int = 1, show_lr: bool = False, out_path: str | Path | None = None,
                         title: str | None = None) -> Figure:
    """Loss against optimizer step, one panel per loss key, one line per run.

    Args:
        history_paths: label -> path of a `history.jsonl`.
        keys: the loss fields to draw (a key some runs lack is noted in that panel; one no run has is an error).
        smooth: trailing moving-average window in steps (1 = raw); with a window the raw curve is drawn faintly.
        show_lr: draw each run's learning rate on a twin (linear) axis of the first panel.
        out_path: also write the PNG there.
        title: figure title.

    Returns:
        The figure. Non-finite and non-positive values cannot sit on a log axis: each panel's title counts them.
    """
    if not history_paths:
        raise ValueError("plot_training_curves needs at least one history")
    if smooth < 1:
        raise ValueError(f"smooth is a window in steps (>= 1), got {smooth}")
    wanted = list(dict.fromkeys([*keys, "lr"] if show_lr else keys))
    histories = {label: read_history(path, wanted) for label, path in history_paths.items()}
    absent = [k for k in keys if not any(k in h for h in histories.values())]
    if absent:
        raise ValueError(f"no history has {absent}; files: {[str(p) for p in history_paths.values()]}")
    fig, axes = new_figure(len(keys), sharex=True)
    colors = {label: f"C{i % 10}" for i, label in enumerate(histories)}
    for ax, key in zip(axes, keys):
        hidden, lacking = 0, []
        for label, hist in histories.items():
            if key not in hist:
                lacking.append(label)
                continue
            values = hist[key]
            hidden += int((~(np.isfinite(values) & (values > 0))).sum())
            if smooth > 1:
                ax.plot(hist["step"], values.where(values > 0), color=colors[label], alpha=0.25, linewidth=0.8)
            ax.plot(hist["step"], _smoothed(values, smooth).where(lambda s: s > 0), color=colors[label], label=label)
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(key)
        notes = [f"{hidden} non-finite/non-positive not shown"] if hidden else []
        notes += [f"absent in: {', '.join(lacking)}"] if lacking else []
        ax.set_title(key + ("\n" + "; ".join(notes) if notes else ""), fontsize=9 if notes else None)
        ax.grid(True, which="both", alpha=0.3)
    if show_lr:
        twin = axes[0].twinx()
        for label, hist in histories.items():
            if "lr" in hist:
                twin.plot(hist["step"], hist["lr"], color=colors[label], linestyle=":", linewidth=1.0)
        twin.set_ylabel("learning rate (dotted)")
    axes[0].legend(fontsize=8)
    suffix = f" (moving average over {smooth} steps)" if smooth > 1 else ""
    return finish(fig, out_path, title=(title or "training loss") + suffix)
