"""Paper-vs-ours tables and the ablation read-outs of the report (paper §4, tables of results and ablations).

`paper_vs_ours` fills each row of the registry (`unloc.study.report.paper.PAPER_TABLES`) with our number for the matching
stage and metric (mean ± std when the stage ran several seeds); `conclusions` says, per ablation family, which setting
is best in our runs, by how much, and whether that matches the paper's stated conclusion and the official configs'
choice where the registry records them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from unloc.study.metrics import headline_metrics
from unloc.study.report.io import format_mean_std
from unloc.study.report.paper import ABLATION_FAMILIES, HEADLINE_1, HEADLINE_2, PAPER_TABLES

OurMetrics = Mapping[str, Mapping[str, float | Sequence[float]]]


def _resolve(metric: str, metrics: Mapping[str, Any] | None, fallback: tuple[str, str] | None) -> str:
    if metric not in (HEADLINE_1, HEADLINE_2):
        return metric
    pair = headline_metrics(metrics or {}) or fallback
    return metric if pair is None else pair[0 if metric == HEADLINE_1 else 1]


def stage_values(our_metrics: OurMetrics, stage: str, metric: str) -> np.ndarray:
    """Our values (one per seed) of `metric` in `stage`; empty when the stage or metric is absent."""
    value = our_metrics.get(stage, {}).get(metric)
    if value is None:
        return np.zeros(0)
    values = np.atleast_1d(np.asarray(value, dtype=float))
    return values[np.isfinite(values)]


def _summary(values: np.ndarray) -> tuple[float, float, int]:
    if not len(values):
        return np.nan, np.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else np.nan, len(values)


def paper_vs_ours(paper_tables: Mapping[str, Mapping[str, Any]] = PAPER_TABLES,
                  our_metrics: OurMetrics | None = None, *, digits: int = 2) -> dict[str, pd.DataFrame]:
    """Each registry table with our numbers beside the paper's.

    Args:
        paper_tables: table id -> {title, rows}; rows carry setting, metric, paper_value, source, our_stage,
            our_metric.
        our_metrics: stage -> {metric: value or list of per-seed values} (`unloc.study.report.io.metrics_by_stage`).
        digits: decimals of the display strings.

    Returns:
        table id -> frame with display columns setting, metric (our metric key; a headline placeholder resolves from
        the stage's task, else from another stage of the same table), paper ("—" when not sourced),
        ours (mean ± std over seeds, "—" when not run), our_stage, source, and numeric columns paper_value,
        ours_mean, ours_std, ours_n.
    """
    our_metrics = our_metrics or {}
    out = {}
    for table_id, table in paper_tables.items():
        rows = []
        stages = [our_metrics[r["our_stage"]] for r in table["rows"] if r["our_stage"] in our_metrics]
        fallback = next((p for m in stages if (p := headline_metrics(m))), None)  # for rows whose stage did not run
        for row in table["rows"]:
            stage = row["our_stage"]
            metric = _resolve(row["our_metric"], our_metrics.get(stage), fallback)
            mean, std, n = _summary(stage_values(our_metrics, stage, metric))
            paper = row["paper_value"]
            rows.append({"setting": row["setting"], "metric": metric,
                         "paper": "—" if paper is None else f"{paper:g}",
                         "ours": format_mean_std(mean, std, n, digits=digits), "our_stage": stage,
                         "source": row["source"], "paper_value": np.nan if paper is None else float(paper),
                         "ours_mean": mean, "ours_std": std, "ours_n": n})
        out[table_id] = pd.DataFrame(rows)
    return out


def _family_stats(our_metrics: OurMetrics, settings: Sequence[str],
                  metric: str | None) -> tuple[str | None, dict[str, tuple[float, float, int]]]:
    stages = {s: next((k for k in (f"ablations.{s}", s) if k in our_metrics), None) for s in settings}
    ran = {s: k for s, k in stages.items() if k is not None}
    if metric is None:
        metric = next((p[0] for k in ran.values() if (p := headline_metrics(our_metrics[k]))), None)
    if metric is None:
        return None, {}
    stats = {s: _summary(stage_values(our_metrics, k, metric)) for s, k in ran.items()}
    return metric, {s: v for s, v in stats.items() if v[2] > 0}


def _verdict(best: str, recorded: str | None, who: str) -> str:
    if recorded is None:
        return f"{who}: not recorded offline"
    return f"{who}: {recorded} ({'ours agrees' if recorded == best else 'ours differs'})"


def conclusions(our_metrics: OurMetrics, families: Mapping[str, Mapping[str, Any]] = ABLATION_FAMILIES,
                metric: str | None = None, *, higher_is_better: bool = True) -> dict[str, str]:
    """One sentence per ablation family: our best setting, its margin, and how it compares with the paper.

    Args:
        our_metrics: stage -> {metric: value or per-seed values}; ablation stages are "ablations.<setting>"
            (a bare "<setting>" key is accepted too).
        families: family -> {settings, paper_conclusion (the setting the paper finds best, or None),
            official {setting or None, source}} (default: the registry's).
        metric: the metric to rank by (default: the first headline metric of the family's task).
        higher_is_better: rank direction.

    Returns:
        family -> e.g. "loss_iou best on R1@0.5 (45.20 ± 0.80, n=3), +1.10 over loss_l1 (within seed noise);
        paper's conclusion: not recorded offline; official configs: loss_iou (ours agrees)".
    """
    out = {}
    for family, spec in families.items():
        used, stats = _family_stats(our_metrics, spec["settings"], metric)
        if not stats:
            out[family] = f"no runs of {', '.join(spec['settings'])}"
            continue
        ranked = sorted(stats, key=lambda s: stats[s][0], reverse=higher_is_better)
        best = ranked[0]
        mean, std, n = stats[best]
        text = f"{best} best on {used} ({format_mean_std(mean, std, n)}, n={n})"
        if len(ranked) > 1:
            second = ranked[1]
            margin = abs(mean - stats[second][0])
            stds = [x for x in (stats[best][1], stats[second][1]) if not np.isnan(x)]
            spread = max(stds) if stds else np.nan
            noise = ("single seed, spread unknown" if np.isnan(spread)
                     else "within seed noise" if margin <= spread else "beyond one std")
            text += f", {margin:.2f} ahead of {second} ({noise})"
        missing = [s for s in spec["settings"] if s not in stats]
        if missing:
            text += f"; not run: {', '.join(missing)}"
        official = (spec.get("official") or {}).get("setting")
        text += "; " + _verdict(best, spec.get("paper_conclusion"), "paper's conclusion")
        text += "; " + (_verdict(best, official, "official configs") if official is not None
                        else "official configs: no single choice")
        out[family] = text
    return out
