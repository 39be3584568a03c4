"""One ablation setting of the study, all its seeds in one notebook: runs, the per-seed metrics file, and the exact
configuration delta against the setting's base.

`run_seeds(stage, params_file, profile)` trains and evaluates `stage` once per seed of params.yaml's `seeds` (or the
given ones), each into `<runs>/<stage path>/seed<k>/` (weights, history, predictions: DVC-cached, not in git), and
writes `<reports>/<stage path>/metrics.json` as `{"seeds": {"<k>": {metric: value}}}` (tracked in git), which
`unloc.study.report.collect_runs` expands into one row per seed, with each seed's per-item metrics and resolved config
beside it in `<reports>/<stage path>/seed<k>/` (what the report's paired intervals resample). One kernel start serves
every seed, and the frozen towers' feature cache (filled once, before any seed starts) is shared by all of them.

params.yaml's `seed_workers` runs that many seeds at once, each in its own process with the thread count its config
names (`train.num_threads`), so the metrics do not depend on `seed_workers` or on the machine's core count: two runs
of one thread each train ~1.5x more seeds an hour than one run of two threads on two cores.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from unloc.config import ExperimentConfig, read_params, to_dict
from unloc.config.params import profile_delta
from unloc.run import RunResult, prepare_features, run_experiment
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


def seed_workers(params_file: str | Path, profile: str | None) -> int:
    """How many seeds run at once: the profile's `seed_workers`, else params.yaml's, else 1."""
    params = read_params(params_file)
    value = profile_delta(params, profile).get("seed_workers", params.get("seed_workers", 1))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{params_file}: seed_workers must be a positive integer, got {value!r}")
    return value


def run_seeds(stage: str, params_file: str | Path, profile: str | None, seeds: Sequence[int] | None = None,
              workers: int | None = None) -> dict[int, RunResult]:
    """Train and evaluate `stage` once per seed, `workers` (default: `seed_workers`) at a time; write the per-seed
    metrics file of the setting; return the runs in seed order."""
    seeds = study_seeds(params_file, profile, seeds)
    workers = min(len(seeds), seed_workers(params_file, profile) if workers is None else workers)
    jobs = [(stage, str(params_file), profile, seed) for seed in seeds]
    if workers == 1:  # each run fills what the feature cache lacks itself
        results = dict(zip(seeds, (run_one_seed(*job) for job in jobs)))
    else:  # spawn: fresh interpreters, no forked torch thread pools; the cache filled once, before any seed reads it
        prepare_features(stage_config(stage, params_file, profile, seeds[0]))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
            results = dict(zip(seeds, pool.map(run_one_seed, *zip(*jobs))))
    save_metrics(stage_dir(params_file, profile, stage), {"seeds": {str(k): r.metrics for k, r in results.items()}})
    return results


def exit_with_parent(parent: int, poll_seconds: float = 1.0) -> None:
    """Worker initializer: end this worker once the process that started it (`parent`) is gone, so that a stopped
    notebook or `dvc repro` leaves no seed training on in the background."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_one_seed(stage: str, params_file: str, profile: str | None, seed: int) -> RunResult:
    """One seed of `stage` into its run directory, its per-item metrics and resolved config copied beside the
    setting's metrics file (module level, so worker processes can run it)."""
    cfg = stage_config(stage, params_file, profile, seed)
    run = run_experiment(cfg, runs_dir(params_file, profile, stage, seed), progress=False)
    write_item_metrics(run.out_dir)  # per query / class: the paired intervals of the report resample them
    kept = stage_dir(params_file, profile, stage, seed)  # tracked in git beside the setting's metrics file
    kept.mkdir(parents=True, exist_ok=True)
    for name in (ITEM_FILE, "config.yaml"):
        if (run.out_dir / name).is_file():
            shutil.copyfile(run.out_dir / name, kept / name)
    return run


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
