"""The study's plumbing for notebooks: profiles, where each stage writes, and the inputs a stage needs.

Notebooks carry only names (stage, profile, params file) and call these functions. `vars:` in params.yaml names the
roots (world, models, reports) and each profile may move them: the `default` profile is the mini-world study that
`dvc repro` runs; `smoke` shrinks everything into `build/smoke/` so the notebooks run in seconds under nbval, and
generates its tiny world on first use; `paper` points at the real datasets and CLIP weights.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from unloc.config import ExperimentConfig, load_config, path_vars, read_params, save_config
from unloc.configio import ConfigError, from_dict
from unloc.data.miniworld.generate import GENERATOR_VERSION, generate_world
from unloc.data.miniworld.sizes import SIZES
from unloc.data.miniworld.vocab import COLOURS, SHAPES
from unloc.experiment import RunResult, load_run, run_experiment
from unloc.report.items import write_item_metrics
from unloc.run_eval import evaluate_predictions
from unloc.study_examples import demo_defaults, enter_repo, plot_run_example  # noqa: F401  (notebook API)
from unloc.tasks.inference import build_task, predict_all
from unloc.train.config import TrainConfig


def study_vars(params_file: str | Path, profile: str | None) -> dict[str, str]:
    """The resolved roots (world, models, reports, ...) of a profile."""
    return path_vars(read_params(params_file), profile)


def section(params_file: str | Path, name: str, profile: str | None) -> dict[str, Any]:
    """A plain (non-experiment) section, e.g. `world` or `clip_pretrain`, with the profile's delta of the same name."""
    params = read_params(params_file)
    if name not in params:
        raise ConfigError(f"params file {params_file} has no section '{name}'")
    base = dict(params[name])
    profile = profile if profile is not None else params.get("profile")
    delta = ((params.get("profiles") or {}).get(profile or "", {}) or {}).get(name) or {}
    return {**base, **delta}


def ensure_world(params_file: str | Path, profile: str | None) -> Path:
    """The profile's mini-world directory; generated here if it has no MANIFEST.json yet, or one written by another
    generator version (the DVC `generate` stage makes the default one, so this is a no-op there)."""
    world = section(params_file, "world", profile)
    out = Path(study_vars(params_file, profile)["world"])
    manifest = out / "MANIFEST.json"
    if not manifest.is_file() or json.loads(manifest.read_text()).get("generator_version") != GENERATOR_VERSION:
        generate_world(out, SIZES[world["size"]], int(world["seed"]), workers=int(world.get("workers", 1)))
    return out


def clip_train_config(params_file: str | Path, profile: str | None) -> tuple[TrainConfig, Path, dict]:
    """The two-tower pretraining's TrainConfig, output directory and architecture: the tower arch every later stage
    names (`common.model.tower.arch`), so the checkpoint always fits the stages that load it."""
    values = section(params_file, "clip_pretrain", profile)
    out = Path(study_vars(params_file, profile)["models"]) / "clip_mini"
    cfg = from_dict(TrainConfig, values.get("train"), where="clip_pretrain.train")
    arch = read_params(params_file)["common"]["model"]["tower"]["arch"]
    if not isinstance(arch, dict):
        raise ConfigError("common.model.tower.arch must be the two-tower model's config dict for the mini-world")
    return replace(cfg, out_dir=str(out / "train")), out, arch


def clip_options(params_file: str | Path, profile: str | None) -> dict[str, Any]:
    """`pretrain_clip`'s keyword options from `clip_pretrain` (besides `train`): `action_weight` (default 0) and
    `negative_groups`, a list of mini-world word groups by name (`shapes`, `colours`: the words of the appearance
    captions the negatives are made from) or as explicit word lists; absent or null trains without hard negatives."""
    values = section(params_file, "clip_pretrain", profile)
    unknown = set(values) - {"train", "action_weight", "negative_groups"}
    if unknown:
        raise ConfigError(f"clip_pretrain: unknown keys {sorted(unknown)} (train, action_weight, negative_groups)")
    groups = values.get("negative_groups")
    if groups is not None:
        if not isinstance(groups, list) or not groups:
            raise ConfigError(f"clip_pretrain.negative_groups must be a non-empty list, got {groups!r}")
        groups = [_word_group(g) for g in groups]
    return {"action_weight": float(values.get("action_weight", 0.0)), "negative_groups": groups}


def _word_group(group: Any) -> tuple[str, ...]:
    named = {"shapes": SHAPES, "colours": tuple(COLOURS)}
    if isinstance(group, str):
        if group not in named:
            raise ConfigError(f"clip_pretrain.negative_groups: unknown group {group!r}; named groups: {sorted(named)}")
        return tuple(named[group])
    if isinstance(group, list) and len(set(group)) >= 2 and all(isinstance(w, str) for w in group):
        return tuple(group)
    raise ConfigError(f"clip_pretrain.negative_groups: {group!r} is neither a group name nor a list of 2+ words")


def stage_dir(params_file: str | Path, profile: str | None, stage: str, seed: int | None = None) -> Path:
    """reports/<stage path>/[seed<k>/] for the profile (dots of the stage name become folders)."""
    root = Path(study_vars(params_file, profile)["reports"]) / Path(*stage.split("."))
    return root / f"seed{seed}" if seed is not None else root


def stage_config(stage: str, params_file: str | Path, profile: str | None, seed: int | None = None) -> ExperimentConfig:
    """The stage's resolved config; missing inputs (an earlier stage's checkpoint) are reported by name."""
    cfg = load_config(stage, params_file, profile=profile, overrides={"seed": seed} if seed is not None else None)
    needed = [p for p in (cfg.init.checkpoint, cfg.model.tower.pretrained) if p and p.endswith(".safetensors")]
    missing = [p for p in needed if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"stage {stage} needs {missing}: run the earlier stages first "
                                "(dvc repro, or the notebooks in order)")
    return cfg


def run_stage(stage: str, params_file: str | Path, profile: str | None, seed: int | None = None,
              progress: bool = False) -> RunResult:
    """Resolve, train and evaluate one stage into its `stage_dir`."""
    cfg = stage_config(stage, params_file, profile, seed)
    result = run_experiment(cfg, stage_dir(params_file, profile, stage, seed), progress=progress)
    write_item_metrics(result.out_dir)  # per query / class, for the paired confidence intervals of the report
    return result


def reevaluate(run_dir: str | Path, params_cfg: ExperimentConfig, out_dir: str | Path, **task_changes: Any) -> dict:
    """Predict the evaluation split again with a trained run and a changed task setting (e.g. prompt_mode='ensemble'),
    without retraining; writes predictions and metrics.json into `out_dir`."""
    from unloc.data.task_build import build_task_dataset
    from unloc.data.task_loader import eval_batches
    from unloc.model.clip_loader import build_tokenizer

    _, model, classes = load_run(run_dir)
    cfg = replace(params_cfg, task=replace(params_cfg.task, **task_changes))
    tokenizer = build_tokenizer(cfg.model.text_tower or cfg.model.tower)
    names = None if cfg.data.class_split else classes.get("train")
    dataset = build_task_dataset(cfg.data, cfg.task.kind, "eval", tokenizer=tokenizer, tower=cfg.model.tower,
                                 class_names=names, seed=cfg.seed)
    task = build_task(cfg.task, class_names=classes.get("train", []), tokenizer=tokenizer,
                      eval_class_names=dataset.class_names if cfg.data.class_split else None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictions = predict_all(task, model, eval_batches(dataset))
    metrics = evaluate_predictions(cfg, predictions, classes, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    save_config(cfg, out / "config.yaml")
    write_item_metrics(out)
    return metrics


# The settings each ablation base stands for (one run serves every family's default, instead of identical reruns).
BASE_ALIASES = {
    "ablations.base": ("loss_iou", "pyramid_vitdet", "heads_2", "text_one_token", "fusion_mid", "towers_frozen_frozen"),
    "ablations.tal_base": ("text_paired",),
}


_SPLIT_STAGE = re.compile(r"^(?P<base>.+)_split\d+$")


def pool_split_runs(runs):
    """Runs of `<stage>_split<k>` stages (the same experiment on another random class split) renamed to `<stage>`,
    so tables and summaries give the mean ± std over the splits, as the zero-shot protocol reports."""
    base = runs.stage.str.extract(_SPLIT_STAGE)["base"]
    split = base.notna()
    pooled = runs.copy()
    pooled.loc[split, "stage"] = base[split]
    pooled.loc[split, "name"] = base[split].str.rsplit(".", n=1).str[-1]
    return pooled


def alias_base_runs(runs):
    """Ablation runs with each base run repeated under the setting names it stands for (`BASE_ALIASES`)."""
    import pandas as pd

    extra = [runs[runs.stage == base].assign(stage=f"ablations.{name}", name=name)
             for base, names in BASE_ALIASES.items() for name in names]
    return pd.concat([runs, *extra], ignore_index=True)
