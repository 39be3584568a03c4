"""One stage of the study end to end: config -> data -> model -> training -> predictions -> official metrics.

`run_experiment(cfg, out_dir)` is what the notebooks and `unloc train` call. It builds the model (optionally from an
earlier UnLoc checkpoint, e.g. video pretraining), the task and its datasets, trains with `unloc.train.fit` (in
`cfg.train.world_size` processes, started here when needed), predicts the evaluation split, evaluates the prediction
files with `unloc.eval` exactly as `unloc eval` would, and leaves a self-contained run directory:

    out_dir/config.yaml        the resolved ExperimentConfig (its seed included; a first comment names out_dir)
    out_dir/model.safetensors  final weights (load with `load_run`)
    out_dir/classes.json       class names of class tasks (training and evaluation lists)
    out_dir/predictions.*      the evaluator input (TAL json, MR jsonl, segmentation npz, pretraining json)
    out_dir/metrics.json       flat metric keys shared across stages (see `unloc.run.evaluate`)
    out_dir/times.json         seconds spent filling the feature cache, training, predicting and evaluating
    out_dir/train/             history.jsonl, epochs.jsonl, checkpoints/
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unloc.config import ExperimentConfig, load_run_config, save_config
from unloc.config.strict import to_dict
from unloc.data.build import build_task_dataset, reads_feature_cache
from unloc.data.datasets import eval_batches, train_batches
from unloc.data.extract import fill_feature_cache
from unloc.data.formats.fileio import read_names
from unloc.model.build import build_image_tower, build_model
from unloc.model.clip_loader import build_tokenizer
from unloc.run.evaluate import evaluate_predictions
from unloc.tasks.inference import build_task, predict_all
from unloc.train import fit, launch, load_weights, save_weights, seed_everything
from unloc.train.distributed import barrier, is_main, unwrap, world_info


@dataclass
class RunResult:
    """What a finished stage produced."""

    out_dir: Path
    metrics: dict[str, float]
    train_seconds: float
    eval_seconds: float
    skipped_videos: list[str]

    @property
    def history_path(self) -> Path:
        return self.out_dir / "train" / "history.jsonl"


def with_data_classes(cfg: ExperimentConfig, num_classes: int) -> ExperimentConfig:
    """A text-free model (fusion mode 'no_text') predicts one logit per training class: size it from the data."""
    if cfg.model.fusion.mode != "no_text" or cfg.model.fusion.num_classes:
        return cfg
    fusion = replace(cfg.model.fusion, num_classes=num_classes)
    return replace(cfg, model=replace(cfg.model, fusion=fusion))


def build_run_model(cfg: ExperimentConfig) -> tuple[nn.Module, Any]:
    """The model of `cfg` with its initial weights, and the tokenizer of its text tower."""
    model = build_model(cfg.model)
    if cfg.init.checkpoint:
        report = load_weights(model, cfg.init.checkpoint, strict=False, ignore_prefixes=cfg.init.ignore)
        print(f"init from {cfg.init.checkpoint}: {len(report.loaded)} tensors loaded, "
              f"{len(report.missing)} fresh, {len(report.ignored)} ignored")
    return model, build_tokenizer(cfg.model.text_tower or cfg.model.tower)


def check_cached_tower(cfg: ExperimentConfig, model: nn.Module) -> None:
    """When the stage reads the feature cache, its model's image tower (after the init checkpoint) must be the tower
    the cache was built with; an UnLoc checkpoint with another image tower would make the cached features wrong."""
    if not (cfg.init.checkpoint and reads_feature_cache(cfg.data, cfg.model.tower)):
        return
    with torch.random.fork_rng(devices=[]):  # building the reference tower must not move the generator training uses
        ref = build_image_tower(cfg.model.tower).eval().state_dict()
    own = model.image_tower.state_dict()
    different = [k for k in ref if k not in own or not torch.equal(own[k].cpu(), ref[k].cpu())]
    if different:
        raise ValueError(f"the image tower loaded from {cfg.init.checkpoint} differs from the cached tower's weights "
                         f"({len(different)} tensors, e.g. {different[:2]}): cached features would be wrong; add "
                         "'image_tower' to init.ignore, or unset data.feature_cache")


def _datasets(cfg: ExperimentConfig, tokenizer: Any) -> tuple[Any, Any]:
    kind = cfg.task.kind
    names = read_names(cfg.data.classes_file) if cfg.data.classes_file else None
    train_ds = build_task_dataset(cfg.data, kind, "train", tokenizer=tokenizer, tower=cfg.model.tower,
                                  class_names=names, seed=cfg.seed)
    eval_names = None if (cfg.data.class_split or kind == "mr") else train_ds.class_names
    eval_ds = build_task_dataset(cfg.data, kind, "eval", tokenizer=tokenizer, tower=cfg.model.tower,
                                 class_names=eval_names, seed=cfg.seed)
    return train_ds, eval_ds


def prepare_features(cfg: ExperimentConfig, *, progress: bool = False) -> None:
    """Encode the videos the feature cache lacks when the run reads cached tokens of a frozen image tower (a no-op
    otherwise). `run_experiment` calls it; call it once before starting several runs that share the cache at once."""
    if reads_feature_cache(cfg.data, cfg.model.tower):
        fill_feature_cache(cfg.data, cfg.model.tower, build_image_tower(cfg.model.tower).eval(), progress=progress)


def _train_and_predict(cfg: ExperimentConfig, out_dir: str, resume: bool, progress: bool) -> dict[str, Any]:
    """Runs on every rank (module level, so `launch` can start it in new processes)."""
    out = Path(out_dir)
    # bit-identical reruns: CPU index backward (the pair gather) otherwise adds atomically in thread order, and
    # float reductions split by the thread count
    seed_everything(cfg.seed, deterministic=True)
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    tokenizer = build_tokenizer(cfg.model.text_tower or cfg.model.tower)
    start = time.perf_counter()
    if is_main():
        prepare_features(cfg, progress=progress)
    barrier()
    extract_seconds = time.perf_counter() - start
    train_ds, eval_ds = _datasets(cfg, tokenizer)
    cfg = with_data_classes(cfg, len(train_ds.class_names))
    if is_main():
        save_config(cfg, out / "config.yaml", run_dir=out)
    seed_everything(cfg.seed)
    model, _ = build_run_model(cfg)
    if cfg.init.checkpoint and is_main():
        check_cached_tower(cfg, model)
    task = build_task(cfg.task, class_names=train_ds.class_names, tokenizer=tokenizer,
                      eval_class_names=eval_ds.class_names if cfg.data.class_split else None)
    start = time.perf_counter()
    fit(model, task.step, cfg.train, out_dir=out / "train", seed=cfg.seed,
        batches=train_batches(train_ds, cfg.train, seed=cfg.seed), resume=resume, progress=progress,
        run_config=to_dict(cfg))
    train_seconds = time.perf_counter() - start
    if not is_main():
        return {}
    model = unwrap(model)
    save_weights(model, out / "model.safetensors")
    start = time.perf_counter()
    skipped: list = []
    device = next(model.parameters()).device
    predictions = predict_all(task, model, eval_batches(eval_ds, num_workers=cfg.data.num_workers, skipped=skipped),
                              device=device)
    predict_seconds = time.perf_counter() - start
    return {"predictions": predictions, "extract_seconds": extract_seconds, "train_seconds": train_seconds,
            "predict_seconds": predict_seconds,
            "skipped": [f"{s.path}: {s.reason}" for s in skipped], "data_report": train_ds.report.summary(),
            "classes": {"train": list(train_ds.class_names), "eval": list(eval_ds.class_names)}}


def run_experiment(cfg: ExperimentConfig, out_dir: str | Path, *, resume: bool = False,
                   progress: bool = True) -> RunResult:
    """Train and evaluate one stage; see the module docstring for what `out_dir` holds.

    Args:
        cfg: the resolved stage config (`unloc.config.load_config`).
        out_dir: the run directory (created).
        resume: continue an interrupted run from its newest checkpoint.
        progress: tqdm progress bars.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml", run_dir=out)
    if cfg.train.world_size > 1 and world_info().world_size == 1:
        result = launch(_train_and_predict, cfg.train.world_size, cfg, str(out), resume, progress)
    else:
        result = _train_and_predict(cfg, str(out), resume, progress)
    if not is_main():  # under torchrun every rank runs this; rank 0 alone predicts, evaluates and writes
        return RunResult(out, {}, result.get("train_seconds", 0.0), 0.0, [])
    (out / "classes.json").write_text(json.dumps(result["classes"], indent=1))
    start = time.perf_counter()
    metrics = evaluate_predictions(cfg, result["predictions"], result["classes"], out)
    eval_seconds = result["predict_seconds"] + time.perf_counter() - start
    metrics.update({"train_seconds": round(result["train_seconds"], 2), "eval_seconds": round(eval_seconds, 2)})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    times = {k: round(result[f"{k}_seconds"], 2) for k in ("extract", "train", "predict")}
    (out / "times.json").write_text(json.dumps({**times, "eval": round(eval_seconds - result["predict_seconds"], 2)}))
    return RunResult(out, metrics, result["train_seconds"], eval_seconds, result["skipped"])


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[ExperimentConfig, nn.Module, dict]:
    """A trained run directory -> (config, model with its final weights in eval mode, class lists)."""
    run = Path(run_dir)
    for name in ("config.yaml", "model.safetensors"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run} is not a finished unloc run: {name} is missing")
    cfg = load_run_config(run / "config.yaml")
    cfg = replace(cfg, model=replace(cfg.model, tower=replace(cfg.model.tower, pretrained=None)))
    model = build_model(cfg.model)
    load_weights(model, run / "model.safetensors", strict=True)
    classes = json.loads((run / "classes.json").read_text()) if (run / "classes.json").is_file() else {}
    return cfg, model.to(device).eval(), classes
