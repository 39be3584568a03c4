"""The study's plumbing for notebooks: profiles, where each stage writes, and the inputs a stage needs.

Notebooks carry only names (stage, profile, params file) and call these functions. `vars:` in params.yaml names the
roots (world, models, reports) and each profile may move them: the `default` profile is the mini-world study that
`dvc repro` runs; `smoke` shrinks everything into `build/smoke/` so the notebooks run in seconds under nbval, and
generates its tiny world on first use; `paper` points at the real datasets and CLIP weights.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from unloc.config import ExperimentConfig, load_config, read_params, save_config
from unloc.config.strict import ConfigError
from unloc.run.evaluate import evaluate_predictions
from unloc.run.experiment import RunResult, load_run, run_experiment
from unloc.study import paper_profile
from unloc.study.examples import demo_defaults, plot_run_example  # noqa: F401  (notebook API)
from unloc.study.items import write_item_metrics
from unloc.study.miniworld.generate import GENERATOR_VERSION, generate_world
from unloc.study.miniworld.sizes import SIZES
from unloc.study.miniworld.vocab import COLOURS, SHAPES
from unloc.study.paths import enter_repo, stage_dir, study_vars
from unloc.study.sections import clip_pretrain_config, world_config
from unloc.tasks.inference import build_task, predict_all
from unloc.train.config import TrainConfig


def ensure_world(params_file: str | Path, profile: str | None) -> Path:
    """The profile's mini-world directory; generated here if it has no MANIFEST.json yet, or one written by another
    generator version (the DVC `generate` stage makes the default one, so this is a no-op there)."""
    world = world_config(params_file, profile)
    out = Path(study_vars(params_file, profile)["world"])
    manifest = out / "MANIFEST.json"
    if not manifest.is_file() or json.loads(manifest.read_text()).get("generator_version") != GENERATOR_VERSION:
        if world.size not in SIZES:
            raise ConfigError(f"world.size: unknown preset {world.size!r}; choose one of {sorted(SIZES)}")
        generate_world(out, SIZES[world.size], world.seed, workers=world.workers)
    return out


def clip_train_config(params_file: str | Path, profile: str | None) -> tuple[TrainConfig, Path, dict]:
    """The two-tower pretraining's TrainConfig, output directory and architecture: the tower arch every later stage
    names (`common.model.tower.arch`), so the checkpoint always fits the stages that load it."""
    out = Path(study_vars(params_file, profile)["models"]) / "clip_mini"
    cfg = clip_pretrain_config(params_file, profile).train
    arch = read_params(params_file)["common"]["model"]["tower"]["arch"]
    if not isinstance(arch, dict):
        raise ConfigError("common.model.tower.arch must be the two-tower model's config dict for the mini-world")
    return cfg, out, arch


def clip_options(params_file: str | Path, profile: str | None) -> dict[str, Any]:
    """`pretrain_clip`'s keyword options from `clip_pretrain` (besides `train`): `action_weight` and `word_weight`
    (default 0) and `negative_groups`, a list of mini-world word groups by name (`shapes`, `colours`: the words of the appearance
    captions the negatives are made from) or as explicit word lists; absent or null trains without hard negatives."""
    values = clip_pretrain_config(params_file, profile)
    groups = values.negative_groups
    if groups is not None:
        if not groups:
            raise ConfigError("clip_pretrain.negative_groups must be a non-empty list or null")
        groups = [_word_group(g) for g in groups]
    return {"action_weight": values.action_weight, "word_weight": values.word_weight, "negative_groups": groups}


def _word_group(group: Any) -> tuple[str, ...]:
    named = {"shapes": SHAPES, "colours": tuple(COLOURS)}
    if isinstance(group, str):
        if group not in named:
            raise ConfigError(f"clip_pretrain.negative_groups: unknown group {group!r}; named groups: {sorted(named)}")
        return tuple(named[group])
    if isinstance(group, tuple) and len(set(group)) >= 2 and all(isinstance(w, str) for w in group):
        return tuple(group)
    raise ConfigError(f"clip_pretrain.negative_groups: {group!r} is neither a group name nor a list of 2+ words")


def stage_config(stage: str, params_file: str | Path, profile: str | None, seed: int | None = None) -> ExperimentConfig:
    """The stage's resolved config; missing inputs (an earlier stage's checkpoint) are reported by name."""
    cfg = load_config(stage, params_file, profile=profile, overrides={"seed": seed} if seed is not None else None)
    needed = [p for p in (cfg.init.checkpoint, cfg.model.tower.pretrained) if p and p.endswith(".safetensors")]
    missing = [p for p in needed if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"stage {stage} needs {missing}: run the earlier stages first "
                                "(dvc repro, or the notebooks in order)")
    return cfg


def describe(cfg: ExperimentConfig) -> str:
    """One line naming the stage's task and the model parts its ablations vary."""
    m, sampling = cfg.model, cfg.data.sampling
    frames = (f"{sampling.fps:g} fps in windows of {sampling.window}" if sampling.fps else f"{sampling.num_frames} frames")
    return (f"stage {cfg.name} ({cfg.task.kind}), seed {cfg.seed}: fusion {m.fusion.layers}x{m.fusion.width} "
            f"({m.fusion.mode}, text {m.fusion.text_input}), pyramid {m.pyramid.kind}/{m.pyramid.num_levels}, "
            f"head layers {m.head.num_conv_layers}, box loss {cfg.task.box_loss}, frozen image/text towers "
            f"{m.tower.freeze_image}/{m.tower.freeze_text}, {frames}, "
            f"{cfg.train.epochs} epochs")


def open_stage(stage: str, params_file: str | Path, profile: str | None, seed: int | None = None) -> ExperimentConfig:
    """A notebook's set-up in one call: into the repository root, the profile's world in place, the stage's config
    resolved (its inputs checked) and described in one printed line. Under a real-data profile (`paper_configs`)
    there is no world to make; a second line names the dataset and the paper configuration the stage runs."""
    enter_repo()
    real = paper_profile.runs_real_data(params_file, profile)
    if not real:
        ensure_world(params_file, profile)
    cfg = stage_config(stage, params_file, profile, seed)
    print(describe(cfg))
    if real:
        print(paper_profile.data_line(cfg, paper_profile.paper_config(params_file, profile, stage)))
    return cfg


def run_stage(stage: str, params_file: str | Path, profile: str | None, seed: int | None = None,
              progress: bool = False) -> RunResult:
    """Resolve, train and evaluate one stage into its `stage_dir`."""
    cfg = stage_config(stage, params_file, profile, seed)
    result = run_experiment(cfg, stage_dir(params_file, profile, stage, seed), progress=progress)
    write_item_metrics(result.out_dir)  # per query / class, for the paired confidence intervals of the report
    return result


def reevaluate(run_dir: str | Path, params_cfg: ExperimentConfig, out_dir: str | Path,
               eval_classes: list[str] | None = None, **task_changes: Any) -> dict:
    """Predict the evaluation split again with a trained run and a changed task setting (e.g. prompt_mode='ensemble'),
    without retraining; writes predictions and metrics.json into `out_dir`. `eval_classes` (zero-shot stages only)
    prompts and scores another class list than the unseen one, e.g. the seen classes."""
    from unloc.data.build import build_task_dataset
    from unloc.data.datasets import eval_batches
    from unloc.model.clip_loader import build_tokenizer

    if eval_classes is not None and not params_cfg.data.class_split:
        raise ValueError(f"{params_cfg.name}: eval_classes re-scores a zero-shot stage (data.class_split); this "
                         "stage has none")
    _, model, classes = load_run(run_dir)
    cfg = replace(params_cfg, task=replace(params_cfg.task, **task_changes))
    tokenizer = build_tokenizer(cfg.model.text_tower or cfg.model.tower)
    names = None if cfg.data.class_split else classes.get("train")
    if eval_classes is not None:
        names, classes = list(eval_classes), {**classes, "eval": list(eval_classes)}
    dataset = build_task_dataset(cfg.data, cfg.task.kind, "eval", tokenizer=tokenizer, tower=cfg.model.tower,
                                 class_names=names, seed=cfg.seed)
    task = build_task(cfg.task, class_names=classes.get("train", []), tokenizer=tokenizer,
                      eval_class_names=dataset.class_names if cfg.data.class_split else None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictions = predict_all(task, model, eval_batches(dataset))
    metrics = evaluate_predictions(cfg, predictions, classes, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    save_config(cfg, out / "config.yaml", run_dir=out)
    write_item_metrics(out)
    return metrics
