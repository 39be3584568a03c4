"""Ablation bar charts: one panel per ablation family (paper §4.2), one bar per setting, seed spread as error bars.

Input is a `seed_summary` frame (one row per setting with `<metric>_mean`, `<metric>_std`, `<metric>_n`). Settings of a
family that were not run are shown as an empty slot labelled "not run", so a missing ablation is visible rather than
silently absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from unloc.study.figures.figure import finish, new_figure
from unloc.study.report.io import format_mean_std
from unloc.study.report.paper import ABLATION_FAMILIES

ABLATION_PREFIX = "ablations."


def default_families() -> dict[str, list[str]]:
    """Family id -> our ablation setting names, from the paper registry."""
    return {family: list(spec["settings"]) for family, spec in ABLATION_FAMILIES.items()}


def setting_row(summary: pd.DataFrame, label_col: str, setting: str) -> pd.Series | None:
    """The summary row of `setting` (matched as "loss_l1" or "ablations.loss_l1"), or None when it was not run."""
    if label_col not in summary.columns:
        raise KeyError(f"label column {label_col!r} not in the summary (columns: {list(summary.columns)})")
    labels = summary[label_col].astype(str)
    hits = summary[(labels == setting) | (labels == ABLATION_PREFIX + setting)]
    if len(hits) > 1:
        raise ValueError(f"setting {setting!r} matches {len(hits)} summary rows: {hits[label_col].tolist()}")
    return None if hits.empty else hits.iloc[0]


def short_name(setting: str) -> str:
    """Tick label: the setting without its family prefix ("loss_l1_iou" -> "l1_iou", "towers_frozen_frozen" ->
    "frozen_frozen")."""
    return setting.split("_", 1)[1] if "_" in setting else setting


def _draw_family(ax, summary: pd.DataFrame, label_col: str, metric: str, settings: Sequence[str]) -> None:
    x = np.arange(len(settings))
    for i, setting in enumerate(settings):
        row = setting_row(summary, label_col, setting)
        if row is None or pd.isna(row[f"{metric}_mean"]):
            ax.text(i, 0.04, "not run", transform=ax.get_xaxis_transform(), ha="center", va="bottom", rotation=90,
                    fontsize=9, color="0.4")
            continue
        mean, std, n = float(row[f"{metric}_mean"]), float(row[f"{metric}_std"]), int(row[f"{metric}_n"])
        yerr = std if n > 1 and np.isfinite(std) else None
        ax.bar(i, mean, yerr=yerr, capsize=4, color=f"C{i % 10}", alpha=0.85)
        ax.annotate(format_mean_std(mean, std, n, digits=1), (i, mean + (yerr or 0.0)), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [short_name(s) for s in settings], rotation=20, fontsize=8)
    ax.set_xlim(-0.6, len(settings) - 0.4)
    ax.set_ylabel(metric)
    ax.margins(y=0.15)
    ax.grid(True, axis="y", alpha=0.3)


def plot_ablation_bars(summary_df: pd.DataFrame, metric: str, families: Mapping[str, Sequence[str]] | None = None,
                       *, label_col: str = "name", out_path: str | Path | None = None, ncols: int = 4,
                       title: str | None = None) -> Figure:
    """Bar chart of one metric over the ablation families, mean over seeds with std error bars and value labels.

    Args:
        summary_df: `seed_summary(runs, group_by=label_col)`; must hold `<metric>_mean/_std/_n`.
        metric: the metric key, e.g. "R1@0.5" or "mAP_avg".
        families: family -> settings in bar order (default: the paper registry's seven families). Families with
            no run at all are left out of the figure; missing settings of a drawn family show "not run".
        label_col: the summary column naming the setting ("name" or "stage").
        out_path: also write the PNG there.
        ncols: panels per row.
        title: figure title.

    Returns:
        The figure, one panel per family that has at least one run.
    """
    needed = [f"{metric}_{s}" for s in ("mean", "std", "n")]
    if any(c not in summary_df.columns for c in needed):
        known = sorted(c[:-5] for c in summary_df.columns if c.endswith("_mean"))
        raise KeyError(f"the summary has no {needed}; summarised metrics: {known}")
    families = dict(families) if families is not None else default_families()
    drawn = {f: s for f, s in families.items() if any(setting_row(summary_df, label_col, x) is not None for x in s)}
    if not drawn:
        raise ValueError(f"no ablation setting of {sorted(families)} is in the summary's {label_col!r} column")
    fig, axes = new_figure(len(drawn), ncols=ncols, panel_size=(3.6, 3.2))
    for ax, (family, settings) in zip(axes, drawn.items()):
        _draw_family(ax, summary_df, label_col, metric, settings)
        ax.set_title(family.replace("_", " "))
    n_max = int(summary_df[f"{metric}_n"].max())
    return finish(fig, out_path, title=title or f"ablations: {metric} (mean ± std over up to {n_max} seeds)")
