"""A computed verdict for each of the paper's claims (issue 16 item 6): the paper's direction against our effect.

A claim compares two settings (an ablation and the setting it is measured against) as the paper prints them in one of
its tables (`unloc/resources/paper_tables.yaml`). Our side is the effect of the same change in our runs, with its 95 %
interval (`unloc.study.report.effects`: paired by seed and item, or unpaired where the arms are scored on different items).
The paper's tables are single runs printed to 0.1 points, so a difference under `PAPER_TIE` (1 point) is read as the
paper finding no difference, not as a direction. For a directional claim the verdict is "agrees" when our interval
excludes zero on the paper's side, "disagrees" when it excludes zero on the other side, "inconclusive" when it includes
zero. For a no-difference claim it is an equivalence test with margin `MARGIN` (2.5 points, the precision issue 16 asks
of every ablation): "agrees" when the whole interval lies within +-MARGIN, "disagrees" when it lies wholly beyond one
side of it, "inconclusive" otherwise. "not run" when one of the two stages has no run.

Tables 2-4 print three columns (ANet TAL mAP@0.5, ANet-Captions MR R1@0.5, COIN mAP); the paper's number is taken from
the column of the task our runs were scored on, and `same_task` says whether that is the paper's task and dataset
(Table 1 reports ANet TAL only: a Table 1 family run on moment retrieval is compared with ANet TAL and marked False).

Notebook use (runs from `unloc.study.report.collect_runs`, zero-shot splits pooled):
    table = report.claim_table(report.pool_split_runs(runs))
    report.plot_forest(table, out_path=reports / "forest.png")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from unloc.study.items import load_item_metrics, run_task
from unloc.study.paper_numbers import paper_cite, paper_tables, paper_value
from unloc.study.report.effects import Effect, paired_effect, unpaired_effect

AGREES, DISAGREES, INCONCLUSIVE, NOT_RUN = "agrees", "disagrees", "inconclusive", "not run"
PAPER_TIE = 1.0  # |paper difference| below this (points): the paper found no difference
MARGIN = 2.5  # equivalence margin (points) for the paper's no-difference claims
# what a run is scored on (`unloc.study.items.run_task`) -> our headline metric; Tables 2-4 name columns by task
TASK_METRIC = {"anet_tal": "mAP@0.5", "anet_mr": "R1@0.5", "charades_mr": "R1@0.5", "qvh_mr": "R1@0.5",
               "coin": "mAP", "pretrain": "top1"}
TASK_NAMES = {"anet_tal": "ActivityNet TAL", "anet_mr": "ActivityNet-Captions MR", "charades_mr": "Charades-STA MR",
              "qvh_mr": "QVHighlights MR", "coin": "COIN segmentation", "pretrain": "video pretraining"}

PaperCell = tuple[str, str, str | None]  # (table, row, column); column None = the column of our run's task


@dataclass(frozen=True)
class Claim:
    """One comparison the paper prints: `ablation` against `base` (our stages) and the paper's two cells.

    `task` is the paper's task where the cells name their column; with column None (Tables 2-4) the column, and so
    the paper's task, is the one our runs were scored on.
    """

    family: str
    ablation: str
    base: str
    paper_ablation: PaperCell
    paper_base: PaperCell
    task: str | None = None
    paired: bool = True


def _ablation_claims(family: str, table: str, base_row: str, settings: Sequence[str],
                     tasks: Sequence[str] = ("tal", "mr", "seg")) -> list[Claim]:
    """Each setting against its task's default (`ablations.<task>.default`), on every task the family runs on; Table 1
    reports ANet TAL only, Tables 2-4 one column per task (resolved from the task our runs were scored on)."""
    column, task = ("anet_tal", "anet_tal") if table == "1" else (None, None)
    return [Claim(family, f"ablations.{t}.{s}", f"ablations.{t}.default", (table, s, column),
                  (table, base_row, column), task) for t in tasks for s in settings]


CLAIMS: tuple[Claim, ...] = (
    *_ablation_claims("regression_loss", "1", "loss_iou", ("loss_l1", "loss_l1_iou", "loss_diou"), ("tal",)),
    *_ablation_claims("pyramid", "1", "pyramid_vitdet", ("pyramid_none", "pyramid_fpn"), ("tal",)),
    *_ablation_claims("head_layers", "1", "heads_2", ("heads_1", "heads_3", "heads_4"), ("tal",)),
    *_ablation_claims("text_encoder", "2", "text_paired", ("text_unpaired",)),
    Claim("text_encoder", "ablations.tal.text_none", "ablations.tal.default", ("2", "text_none", "anet_tal"),
          ("2", "text_reference", "anet_tal"), "anet_tal"),
    *_ablation_claims("text_tokens", "3", "text_one_token", ("text_all_tokens",)),
    Claim("fusion", "ablations.tal.fusion_late", "ablations.tal.default", ("2", "fusion_late", "anet_tal"),
          ("2", "text_reference", "anet_tal"), "anet_tal"),
    *_ablation_claims("towers", "4", "towers_frozen_frozen",
                      ("towers_frozen_finetuned", "towers_finetuned_frozen", "towers_finetuned_finetuned")),
    *(Claim("b_vs_l", f"mr.{d}_l", f"mr.{d}_b", ("5", f"{d}_l", "R1@0.5"), ("5", f"{d}_b", "R1@0.5"), task)
      for d, task in (("charades", "charades_mr"), ("anet_captions", "anet_mr"), ("qvh", "qvh_mr"))),
    Claim("prompt_ensembling", "tal.finetune_ensemble", "tal.finetune", ("6", "finetuned", "l_ensemble"),
          ("6", "finetuned", "l_first"), "anet_tal"),
    Claim("zero_shot_split", "tal.zero_shot_75", "tal.zero_shot_50", ("6", "zero_shot_75", "b_first"),
          ("6", "zero_shot_50", "b_first"), "anet_tal", paired=False),
)


def paper_claim(paper_delta: float, tie: float = PAPER_TIE) -> str:
    """What the paper's difference says: 'higher', 'lower' or 'no difference' (|delta| < tie)."""
    if not math.isfinite(paper_delta):
        raise ValueError(f"the paper's difference {paper_delta} is not a number")
    return "no difference" if abs(paper_delta) < tie else "higher" if paper_delta > 0 else "lower"


def verdict(effect: Effect, paper_delta: float, *, tie: float = PAPER_TIE, margin: float = MARGIN) -> str:
    """'agrees' / 'disagrees' / 'inconclusive': a directional claim against our interval's side of zero, a
    no-difference claim (|paper_delta| < tie) against the equivalence band +-margin (module docstring)."""
    claim = paper_claim(paper_delta, tie)
    if not (math.isfinite(effect.ci_low) and math.isfinite(effect.ci_high)):
        return INCONCLUSIVE
    if claim == "no difference":
        if -margin <= effect.ci_low and effect.ci_high <= margin:
            return AGREES
        return DISAGREES if effect.ci_low > margin or effect.ci_high < -margin else INCONCLUSIVE
    if effect.sign == 0:
        return INCONCLUSIVE
    return AGREES if effect.sign == int(np.sign(paper_delta)) else DISAGREES


def arm_values(runs: pd.DataFrame, stage: str, metric: str, *, pooled: bool = False) -> dict[int, object]:
    """{seed: run metric or {item: value}} of a stage's runs (per-item values where `item_metrics.json` has them).

    A run without a seed folder gets key -1. With `pooled` (runs that are not seeds of one experiment, e.g. the class
    splits of zero-shot) the runs are keyed 0, 1, ... in path order instead.

    Raises:
        ValueError: two runs of the stage share a seed (without `pooled`).
    """
    rows = runs[runs["stage"] == stage].sort_values("path")
    out: dict[int, object] = {}
    for k, (_, row) in enumerate(rows.iterrows()):
        items = load_item_metrics(row["path"]) or {}
        if metric in items:
            value = items[metric]
        elif metric in row and pd.notna(row[metric]):
            value = float(row[metric])
        else:
            continue
        key = k if pooled else (-1 if pd.isna(row["seed"]) else int(row["seed"]))
        if key in out:
            raise ValueError(f"stage {stage}: two runs with seed {key} ({row['path']}); pool them or keep one")
        out[key] = value
    return out


def _our_task(runs: pd.DataFrame, stages: Sequence[str]) -> str | None:
    for stage in stages:
        for path in runs.loc[runs["stage"] == stage, "path"]:
            if Path(path, "config.yaml").is_file():
                return run_task(path)
    return None


def _paper_cells(claim: Claim, task: str | None) -> tuple[PaperCell, PaperCell, str]:
    """Both cells with their column resolved, and the paper's task."""
    if claim.paper_ablation[2] is not None:
        return claim.paper_ablation, claim.paper_base, claim.task or ""
    table = claim.paper_ablation[0]
    columns = [c for c in paper_tables()["tables"][table]["columns"] if c != "mparams"]
    mr = task is not None and task.endswith("_mr") and "anet_mr" in columns  # MR on another dataset: the MR column
    column = task if task in columns else "anet_mr" if mr else columns[0]
    return (*claim.paper_ablation[:2], column), (*claim.paper_base[:2], column), column


def evaluate_claim(runs: pd.DataFrame, claim: Claim, *, n_resamples: int = 9999, seed: int = 0) -> dict[str, object]:
    """One row of `claim_table` (see there)."""
    task = _our_task(runs, (claim.base, claim.ablation))
    cell_a, cell_b, paper_task = _paper_cells(claim, task)
    paper_a, paper_b = paper_value(*cell_a), paper_value(*cell_b)
    delta = round(paper_a - paper_b, 6)  # printed to 0.1: 54.7 - 53.7 is 1.0, not 1.0000000000000071
    metric = TASK_METRIC[task or paper_task]
    row: dict[str, object] = {
        "family": claim.family, "ablation": claim.ablation, "base": claim.base, "metric": metric,
        "our_task": TASK_NAMES.get(task or "", "not run"), "paper_task": TASK_NAMES[paper_task],
        "same_task": task == paper_task, "paper_ablation": paper_a, "paper_base": paper_b,
        "paper_delta": delta, "paper_claim": paper_claim(delta),
        "paper_source": f"{paper_cite(*cell_a)} vs {paper_cite(*cell_b)}"}
    arms = [arm_values(runs, s, metric, pooled=not claim.paired) for s in (claim.ablation, claim.base)]
    if not arms[0] or not arms[1] or (claim.paired and not set(arms[0]) & set(arms[1])):
        return {**row, **dict.fromkeys(("effect", "ci_low", "ci_high", "half_width"), math.nan), "n_seeds": 0,
                "n_items": 0, "design": "", "verdict": NOT_RUN}
    compare = paired_effect if claim.paired else unpaired_effect
    effect = compare(arms[0], arms[1], n_resamples=n_resamples, seed=seed)
    stats = {k: v for k, v in effect.as_dict().items() if k != "confidence"}
    return {**row, **stats, "verdict": verdict(effect, delta)}


def claim_table(runs: pd.DataFrame, claims: Sequence[Claim] = CLAIMS, *, n_resamples: int = 9999,
                seed: int = 0) -> pd.DataFrame:
    """Every claim's paper direction, our effect with its 95 % interval, and the verdict, one row per claim.

    Args:
        runs: `collect_runs` frame (stage, seed, path, metrics), zero-shot splits pooled (`pool_split_runs`); each
            ablation is compared with its task's `ablations.<task>.default` runs.
        claims: the comparisons (default `CLAIMS`: every family of issue 16).
        n_resamples, seed: of the bootstrap.

    Returns:
        Columns family, ablation, base, metric, our_task, paper_task, same_task, paper_ablation, paper_base,
        paper_delta, paper_claim ('higher', 'lower', 'no difference'), paper_source, effect, ci_low, ci_high,
        half_width, n_seeds, n_items, design, verdict.
    """
    return pd.DataFrame([evaluate_claim(runs, c, n_resamples=n_resamples, seed=seed) for c in claims])
