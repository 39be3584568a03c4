"""The forest plot of the claims (issue 16 item 6): every ablation's effect with its 95 % interval against zero.

One line per claim of a `claim_table`, grouped by family (top to bottom in table order): the effect as a dot, the
interval as a bar, coloured by the verdict; the paper's difference is printed at the right ("paper +0.6"), so the
reader sees on which side of zero the paper puts it. Claims that were not run are listed with "not run".
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from unloc.study.figures.figure import finish, new_figure

VERDICT_COLOURS = {"agrees": "tab:green", "disagrees": "tab:red", "inconclusive": "0.45", "not run": "0.75"}


def _short(stage: str) -> str:
    return stage.split(".", 1)[1] if "." in stage else stage


def claim_label(row: pd.Series) -> str:
    """'loss_l1 vs loss_iou (R1@0.5)', with '*' when our task is not the paper's."""
    mark = "" if row["same_task"] or row["verdict"] == "not run" else "*"
    return f"{_short(row['ablation'])} vs {_short(row['base'])} ({row['metric']}){mark}"


def plot_forest(table: pd.DataFrame, *, out_path: str | Path | None = None, title: str | None = None) -> Figure:
    """Every claim's effect and interval against zero, grouped by family.

    Args:
        table: `unloc.study.report.verdicts.claim_table` (columns family, ablation, base, metric, same_task, effect,
            ci_low, ci_high, paper_delta, verdict).
        out_path: also write the PNG there.
        title: figure title.

    Returns:
        The figure: y = claims (families separated by lines and named in bold), x = effect in the metric's points.
    """
    if table.empty:
        raise ValueError("no claims to plot")
    families = list(dict.fromkeys(table["family"]))
    n_lines = len(table) + len(families)
    fig, (ax,) = new_figure(1, panel_size=(9.0, 0.3 * n_lines + 1.2))
    y, ticks, labels = 0, [], []
    for family in families:
        ax.axhline(y + 0.5, color="0.85", lw=0.8)
        ticks.append(y)
        labels.append(family.replace("_", " "))
        y -= 1
        for _, row in table[table["family"] == family].iterrows():
            colour = VERDICT_COLOURS[row["verdict"]]
            if row["verdict"] == "not run" or math.isnan(row["effect"]):
                ax.text(0.0, y, "not run", ha="center", va="center", fontsize=8, color=colour)
            else:
                low, high = row["ci_low"], row["ci_high"]
                if not math.isnan(low):
                    ax.plot([low, high], [y, y], color=colour, lw=2.2, solid_capstyle="butt")
                ax.plot(row["effect"], y, "o", color=colour, ms=5)
            ax.text(1.01, y, f"paper {row['paper_delta']:+.1f}", transform=ax.get_yaxis_transform(), va="center",
                    fontsize=8, color="0.3")
            ticks.append(y)
            labels.append(claim_label(row))
            y -= 1
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yticks(ticks, labels, fontsize=8)
    for tick in ax.get_yticklabels():
        if tick.get_text() in {f.replace("_", " ") for f in families}:
            tick.set_fontweight("bold")
    ax.set_ylim(y + 0.5, 1.0)
    ax.set_xlabel("effect: ablation - base (metric points), 95 % interval")
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], color=c, marker="o", lw=2, label=v) for v, c in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8, title="verdict vs paper", title_fontsize=8)
    return finish(fig, out_path, title=title or "effects against their bases (* = not the paper's task)")
