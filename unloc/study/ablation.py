"""One ablation setting of the study, all its seeds in one notebook: runs, the per-seed metrics file, and the exact
configuration delta against the setting's base.

`run_seeds(stage, params_file, profile)` trains and evaluates `stage` once per seed of params.yaml's `seeds` (or the
given ones), each into `<runs>/<stage path>/seed<k>/` (weights, history, predictions: DVC-cached, not in git), and
writes `<reports>/<stage path>/metrics.json` as `{"seeds": {"<k>": {metric: value}}}` (tracked in git), which
`unloc.study.report.collect_runs` expands into one row per seed, with each seed's per-item metrics and resolved config
beside it in `<reports>/<stage path>/seed<k>/` (what the report's paired intervals resample). One kernel start and one set of imports serve every
seed, and the frozen towers' feature cache is shared by all of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unloc.config import ExperimentConfig, read_params, to_dict
from unloc.config.params import profile_delta
from unloc.run import RunResult, run_experiment
from unloc.study.items import ITEM_FILE, write_item_metrics
from unloc.study.metrics import save_metrics
from unloc.study.paths import stage_dir, study_vars
from unloc.study.stages import stage_config

_IDENTITY = ("name", "seed")


def study_seeds(params_file: str | Path, profile: str | None, seeds: Sequence[int] | None = None) -> list[int]:
    """`seeds` if given, else the profile's `seeds`, else params.yaml's; an empty or non-integer list is an error."""
    params = read_params(params_file)
    if seeds is None:
        seeds = profile_delta(params, profile).get("seeds", params.get("seeds"))
    values = list(seeds or [])
    if not values or not all(isinstance(s, int) and not isinstance(s, bool) for s in values):
        raise ValueError(f"{params_file}: seeds must be a non-empty list of integers, got {values!r}")
    return values


def runs_dir(params_file: str | Path, profile: str | None, stage: str, seed: int) -> Path:
    """`<runs>/<stage path>/seed<k>`: where one seed's run directory goes (`vars.runs`, default `runs`)."""
    root = Path(study_vars(params_file, profile).get("runs", "runs"))
    return root / Path(*stage.split(".")) / f"seed{seed}"


def run_seeds(stage: str, params_file: str | Path, profile: str | None,
              seeds: Sequence[int] | None = None) -> dict[int, RunResult]:
    """Train and evaluate `stage` once per seed; write the per-seed metrics file of the setting; return the runs."""
    results = {}
    for seed in study_seeds(params_file, profile, seeds):
        cfg = stage_config(stage, params_file, profile, seed)
        results[seed] = run = run_experiment(cfg, runs_dir(params_file, profile, stage, seed), progress=False)
        write_item_metrics(run.out_dir)  # per query / class: the paired intervals of the report resample them
        kept = stage_dir(params_file, profile, stage, seed)  # tracked in git beside the setting's metrics file
        kept.mkdir(parents=True, exist_ok=True)
        for name in (ITEM_FILE, "config.yaml"):
            if (run.out_dir / name).is_file():
                shutil.copyfile(run.out_dir / name, kept / name)
    save_metrics(stage_dir(params_file, profile, stage), {"seeds": {str(k): r.metrics for k, r in results.items()}})
    return results


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def config_delta(cfg: ExperimentConfig, base: ExperimentConfig) -> dict[str, tuple[Any, Any]]:
    """Every dotted config key whose value differs between `base` and `cfg`, as (base value, setting value); the
    run's identity (name, seed) is left out. An ablation should differ in exactly the part it names."""
    ours, theirs = _flat(to_dict(cfg)), _flat(to_dict(base))
    keys = sorted((set(ours) | set(theirs)) - set(_IDENTITY))
    return {k: (theirs.get(k), ours.get(k)) for k in keys if ours.get(k) != theirs.get(k)}
