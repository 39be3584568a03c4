"""A finished moment-retrieval run evaluated on further annotation files: ActivityNet Captions' val_1 beside val_2.

The paper (§4.1.1) tests ActivityNet Captions on `val_2`, which the paper configs evaluate as their run's own split;
peers such as Lighthouse report `val_1`, so `paper.yaml` lists it under `also_evaluate` and `unloc train --paper`
evaluates the finished model on it too, reporting its metrics under keys prefixed with the label (`val_1/R1@0.5`).
`evaluate_on` works for any finished moment-retrieval run and any annotation file of its format: it predicts with the
run's final weights and scores the predictions with the same evaluators as the run's own metrics, under
`<run>/eval_<label>/` (predictions.jsonl, metrics.json).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from unloc.config.paper import extra_eval_sets
from unloc.data.build import build_task_dataset
from unloc.data.config import SplitSource
from unloc.data.datasets import eval_batches
from unloc.model.clip_loader import build_tokenizer
from unloc.run.evaluate import evaluate_predictions
from unloc.run.experiment import load_run
from unloc.tasks.inference import build_task, predict_all


def evaluate_on(run_dir: str | Path, annotations: str | Path, label: str, *,
                device: str | torch.device | None = None, num_workers: int = 0) -> dict[str, float]:
    """Metrics of a finished moment-retrieval run on another annotation file.

    Args:
        run_dir: the run directory (`unloc.run.experiment.run_experiment`).
        annotations: an annotation file of the run's format (e.g. ActivityNet Captions val_1.json); its videos are
            looked up under the run's `data.video_root`.
        label: names the output folder `<run_dir>/eval_<label>/`.
        device: where to predict (default: CUDA when available).
        num_workers: decoding workers.

    Returns:
        The flat metrics (also written to `eval_<label>/metrics.json`).
    """
    run = Path(run_dir)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg, model, classes = load_run(run, device=device)
    if cfg.task.kind != "mr":
        raise ValueError(f"{run}: evaluate_on covers moment-retrieval runs, this one is {cfg.task.kind!r}")
    cfg = replace(cfg, data=replace(cfg.data, eval=SplitSource(str(annotations)), feature_cache=None))
    tokenizer = build_tokenizer(cfg.model.text_tower or cfg.model.tower)
    dataset = build_task_dataset(cfg.data, "mr", "eval", tokenizer=tokenizer, tower=cfg.model.tower, seed=cfg.seed)
    skipped: list = []
    predictions = predict_all(build_task(cfg.task), model, eval_batches(dataset, num_workers=num_workers,
                                                                        skipped=skipped), device=device)
    out = run / f"eval_{label}"
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_predictions(cfg, predictions, classes, out)
    metrics["skipped_videos"] = float(len(skipped))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    return metrics


def evaluate_extra_sets(name: str, run_dir: str | Path, *, paper_root: str | Path | None = None,
                        device: str | torch.device | None = None) -> dict[str, float]:
    """The `also_evaluate` sets of paper config `name` on its finished run, keys prefixed '<label>/'."""
    out: dict[str, float] = {}
    for label, path in extra_eval_sets(name, paper_root).items():
        out.update({f"{label}/{k}": v for k, v in evaluate_on(run_dir, path, label, device=device).items()})
    return out


__all__ = ["evaluate_extra_sets", "evaluate_on"]
