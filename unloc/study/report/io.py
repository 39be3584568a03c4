"""Run directories as data: write and read `metrics.json`, gather many runs into one table, summarise seeds.

Every stage of the study leaves one run directory with a flat `metrics.json` (see `unloc.run.experiment`); ablations run
several seeds, each in its own `.../<name>/seed<k>/` directory. `collect_runs` turns a glob over those directories into
one row per run, and `seed_summary` reduces the seeds to mean ± standard deviation (ddof=1) with the run count, which is
how every ablation number of the report is quoted (paper §4.2 reports single runs; we report the spread).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from unloc.study.metrics import METRICS_FILE, load_metrics, save_metrics  # noqa: F401  (re-exported)

RUN_COLUMNS = ("stage", "name", "seed", "path")
_SEED_DIR = re.compile(r"^seed[_-]?(\d+)$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def _literal_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    cut = next((i for i, part in enumerate(parts) if _GLOB_CHARS.search(part)), len(parts))
    return Path(*parts[:cut]) if cut else Path(".")


def _run_identity(run_dir: Path, root: Path) -> dict[str, Any]:
    try:
        parts = list(run_dir.resolve().relative_to(root.resolve()).parts)
    except ValueError:
        raise ValueError(f"{run_dir} is not under the root {root}") from None
    seed = None
    for i in range(len(parts) - 1, -1, -1):
        match = _SEED_DIR.match(parts[i])
        if match:
            seed = int(match.group(1))
            del parts[i]
            break
    if not parts:
        parts = [run_dir.resolve().parent.name if seed is not None else run_dir.resolve().name]
    return {"stage": ".".join(parts), "name": parts[-1], "seed": seed, "path": str(run_dir)}


def collect_runs(root_glob: str, root: str | Path | None = None) -> pd.DataFrame:
    """One row per run directory matched by a glob, with its metrics and identity parsed from the path.

    A run at `<root>/ablations/loss_l1/seed2/` becomes stage "ablations.loss_l1", name "loss_l1", seed 2; a run at
    `<root>/mr/qvh_b/` (no seed folder) becomes stage "mr.qvh_b", name "qvh_b", seed <NA>. A metrics file holding
    `{"seeds": {"<k>": {...}}}` (an ablation setting with all its seeds) gives one row per seed.

    Args:
        root_glob: glob over run directories or their `metrics.json` files; `**` recurses
            (e.g. "reports/**/metrics.json", "reports/ablations/*/seed*").
        root: the folder stage names are relative to (default: the part of `root_glob` before its first wildcard).

    Returns:
        DataFrame with columns stage, name, seed (nullable int), path, then every scalar metric (sorted); nested
        values of a metrics file are not columns.

    Raises:
        ValueError: nothing matched, or a metric named like an identity column.
        FileNotFoundError: a matched directory has no metrics.json (naming it).
    """
    root = Path(root) if root is not None else _literal_root(root_glob)
    matches = sorted(glob.glob(root_glob, recursive=True))
    run_dirs = [Path(m) if Path(m).is_dir() else Path(m).parent for m in matches]
    run_dirs = list(dict.fromkeys(d for d, m in zip(run_dirs, matches) if Path(m).is_dir() or
                                  Path(m).name == METRICS_FILE))
    if not run_dirs:
        raise ValueError(f"no run directory or {METRICS_FILE} matches {root_glob!r}")
    rows = []
    for run_dir in run_dirs:
        metrics = load_metrics(run_dir)
        clash = sorted(set(metrics) & set(RUN_COLUMNS))
        if clash:
            raise ValueError(f"{run_dir / METRICS_FILE}: metric names {clash} clash with run identity columns")
        identity = _run_identity(run_dir, root)
        per_seed = metrics.get("seeds")
        if isinstance(per_seed, dict):  # one ablation setting, all its seeds (unloc.study.ablation)
            for seed, values in sorted(per_seed.items(), key=lambda kv: int(kv[0])):
                rows.append({**identity, "seed": int(seed), "path": str(run_dir / f"seed{int(seed)}"),
                             **_scalars(values)})
        else:
            rows.append({**identity, **_scalars(metrics)})
    frame = pd.DataFrame(rows)
    metric_cols = sorted(c for c in frame.columns if c not in RUN_COLUMNS)
    frame = frame[list(RUN_COLUMNS) + metric_cols]
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def _scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}


def numeric_metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a `collect_runs` frame that hold numbers (identity columns excluded)."""
    return [c for c in frame.columns
            if c not in RUN_COLUMNS and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def seed_summary(df: pd.DataFrame, group_by: str | Sequence[str] = "stage",
                 metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± sample standard deviation of each metric over the runs (seeds) of each group.

    Args:
        df: a `collect_runs` frame (or any frame with the group and metric columns).
        group_by: column(s) naming a setting, e.g. "stage" or "name".
        metrics: metric columns to summarise (default: every numeric metric column).

    Returns:
        One row per group, sorted by group: the group column(s), `n` (runs in the group), and per metric `<m>_mean`,
        `<m>_std` (ddof=1; NaN with fewer than two values) and `<m>_n` (runs that report it; missing values are left
        out of that metric's mean and counted here).
    """
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    missing = [c for c in keys if c not in df.columns]
    if missing:
        raise KeyError(f"group column(s) {missing} not in the runs table (columns: {list(df.columns)})")
    metrics = list(metrics) if metrics is not None else [c for c in numeric_metric_columns(df) if c not in keys]
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise KeyError(f"metric(s) {unknown} not in the runs table")
    grouped = df.groupby(keys, sort=True, dropna=False)
    out = grouped.size().rename("n").reset_index()
    for metric in metrics:
        stats = grouped[metric].agg(["mean", "std", "count"]).reset_index(drop=True)  # std: pandas' ddof=1
        out[f"{metric}_mean"] = stats["mean"].to_numpy(dtype=float)
        out[f"{metric}_std"] = stats["std"].to_numpy(dtype=float)
        out[f"{metric}_n"] = stats["count"].to_numpy(dtype=int)
    return out


def metrics_by_stage(df: pd.DataFrame, stage_col: str = "stage") -> dict[str, dict[str, list[float]]]:
    """Per stage, every numeric metric as the list of its values over the stage's runs (seeds), NaNs left out.

    This is the `our_metrics` input of `unloc.study.report.tables.paper_vs_ours`.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for stage, group in df.groupby(stage_col, sort=True):
        values = {m: [float(v) for v in group[m].dropna()] for m in numeric_metric_columns(group) if m != stage_col}
        out[str(stage)] = {m: v for m, v in values.items() if v}
    return out


def format_mean_std(mean: float | None, std: float | None = None, n: int = 1, digits: int = 2,
                    na: str = "—") -> str:
    """"61.23 ± 0.45" for several runs, "61.23" for one, `na` when there is no value."""
    if mean is None or pd.isna(mean):
        return na
    if n <= 1 or std is None or pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
