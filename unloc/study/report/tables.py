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
from unloc.study.report.paper import HEADLINE_1, HEADLINE_2, PAPER_TABLES

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
