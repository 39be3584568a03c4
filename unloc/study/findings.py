"""A stage's finding, computed from its numbers: the headline metric against its trivial baselines, as a table and as
the sentence a notebook ends with (e.g. "mr.charades_b: R1@0.5 31.2 [28.9, 33.4], 2.7x the best trivial baseline
(random windows, 11.5)"). Nothing here is typed by hand, so the sentence cannot drift from the metrics above it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from unloc.study.metrics import headline_metrics
from unloc.study.paper_profile import PaperNumber, paper_config, paper_numbers


def baseline_table(ours: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]],
                   paper: Sequence[PaperNumber] = ()) -> pd.DataFrame:
    """Our metrics next to each baseline's, the two headline metrics first, then every other metric all share; with
    `paper` (a real-data profile) the paper's printed numbers stand in a column beside ours."""
    pair = headline_metrics(ours) or ()
    shared = [k for k in sorted(ours) if all(k in b for b in baselines.values()) and k not in pair]
    keys = [k for k in pair if k in ours] + shared
    printed = {"paper": {k: next((p.value for p in paper if p.metric == k), None) for k in keys}} if paper else {}
    return pd.DataFrame({"UnLoc (ours)": {k: ours[k] for k in keys}, **printed,
                         **{name: {k: values.get(k) for k in keys} for name, values in baselines.items()}}).loc[keys]


def best_baseline(baselines: Mapping[str, Mapping[str, float]], metric: str) -> tuple[str, float] | None:
    """The baseline with the highest `metric` (name, value); None when no baseline reports it."""
    scored = [(name, float(values[metric])) for name, values in baselines.items() if metric in values]
    return max(scored, key=lambda item: item[1]) if scored else None


def finding(stage: str, ours: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]],
            interval: tuple[float, float] | None = None, metric: str | None = None,
            paper: Sequence[PaperNumber] = ()) -> str:
    """One sentence: the stage's headline metric (with its 95 % interval when given), its ratio to the best
    trivial baseline on the same evaluation set and, from `paper` (a real-data profile), the number the paper prints
    for it."""
    metric = metric or (headline_metrics(ours) or (None,))[0]
    if metric is None or metric not in ours:
        raise ValueError(f"{stage}: no headline metric among {sorted(ours)[:8]}")
    value = float(ours[metric])
    text = f"{stage}: {metric} {value:.1f}"
    if interval is not None:
        text += f" [{interval[0]:.1f}, {interval[1]:.1f}]"
    best = best_baseline(baselines, metric)
    if best is None:
        text += " (no baseline scored)"
    elif best[1] <= 0:
        text += f", against {best[1]:.1f} for the best trivial baseline ({best[0]})"
    else:
        text += f", {value / best[1]:.1f}x the best trivial baseline ({best[0]}, {best[1]:.1f})"
    printed = next((p for p in paper if p.metric == metric), None)
    return text + (f"; the paper prints {printed.value:.1f} ({printed.cite})" if printed else "")


@dataclass
class StageRun:
    """A finished stage next to its trivial baselines: `result` (the run), `baselines` (name -> metrics), `paper`
    (the paper's printed numbers for the configuration a real-data profile runs; empty on the mini-world) and `table`
    (`baseline_table` of the three)."""

    result: Any
    baselines: dict[str, dict[str, float]]
    paper: tuple[PaperNumber, ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        return baseline_table(self.result.metrics, self.baselines, self.paper)


def run_against_baselines(stage: str, params_file: str | Path, profile: str | None,
                          seed: int | None = None) -> StageRun:
    """Train, predict and score `stage` (`stages.run_stage`), then score its trivial baselines on the same evaluation
    set with the same evaluator (written under the run's `baselines/`); under a real-data profile, with the paper's
    numbers for the configuration it runs."""
    from unloc.study import stages
    from unloc.study.baselines import baseline_metrics

    result = stages.run_stage(stage, params_file, profile, seed)
    cfg = stages.stage_config(stage, params_file, profile, seed)
    paper = paper_numbers(paper_config(params_file, profile, stage))
    return StageRun(result, baseline_metrics(cfg, result.out_dir / "baselines"), paper)
