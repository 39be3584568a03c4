"""Evaluate a run's predictions with the official-equivalent evaluators, through the same files `unloc eval` reads.

Predictions are written in the official submission formats (ActivityNet json, QVHighlights jsonl, per-frame score npz)
and scored against the stage's evaluation annotation file with `unloc.eval`, so the study's numbers are exactly what
`unloc eval` prints for those files. Metric keys are flat and shared across stages: TAL `mAP@0.5` ... `mAP_avg`; MR
`R1@0.5`, `R5@0.7`, `mIoU` (+ the official `MR-*`/`HL-*` keys on QVHighlights); segmentation `frame_accuracy`, `mAP`,
`edit`, `F1@50`; video pretraining `top1`, `mAP`. All in percent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from unloc.data.formats import read_annotations
from unloc.eval import class_frame_ap, evaluate_moment_retrieval, evaluate_segmentation, evaluate_temporal_localization
from unloc.eval.segmentation_inputs import frame_times
from unloc.tasks.action_segmentation import scores_at

_DROP = ("per_class_AP", "input_quirks")


def _flat_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """Keep the scalar metrics (drop per-class tables, input quirks and strings) for metrics.json."""
    return {k: float(v) for k, v in metrics.items()
            if k not in _DROP and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _warnings(metrics: dict[str, Any], out_dir: Path) -> None:
    """The evaluator's counted input quirks (official-script parity), kept beside the run's metrics."""
    if metrics.get("input_quirks"):
        (out_dir / "eval_warnings.json").write_text(json.dumps(metrics["input_quirks"], indent=1))


def eval_annotations(cfg) -> tuple[Path, str | None]:
    """The evaluation annotation file of a stage and the split to evaluate."""
    source = cfg.data.source("eval")
    return Path(source.annotations), source.split


def restrict_anet_classes(gt_path: Path, classes: list[str], out_path: Path) -> Path:
    """An ActivityNet-1.3 ground truth keeping only `classes` (zero-shot: the unseen classes), written to out_path."""
    data = json.loads(gt_path.read_text())
    keep = set(classes)
    database = {}
    for vid, entry in data["database"].items():
        annotations = [a for a in entry.get("annotations", []) if a["label"] in keep]
        if annotations:
            database[vid] = {**entry, "annotations": annotations}
    out = {k: v for k, v in data.items() if k not in ("database", "taxonomy")}
    out["database"] = database
    out_path.write_text(json.dumps(out))
    return out_path


def evaluate_tal(cfg, submission: dict, classes: dict, out_dir: Path) -> dict[str, Any]:
    gt_path, split = eval_annotations(cfg)
    pred_path = out_dir / "predictions.json"
    pred_path.write_text(json.dumps(submission))
    dropped, subset = 0, split or "validation"
    if cfg.data.class_split:
        gt_path = restrict_anet_classes(gt_path, classes["eval"], out_dir / "ground_truth_eval_classes.json")
        # an unseen class with no instance in the split has no AP; its detections cannot be scored, so they are
        # left out of the scored file and counted (the full submission stays in predictions.json)
        restricted = read_annotations(gt_path, "activitynet13", split=subset, as_given=True)
        present = {s.label for v in restricted.videos.values() for s in v.segments}  # (not only in training videos)
        scored = {vid: [d for d in dets if d["label"] in present] for vid, dets in submission["results"].items()}
        dropped = sum(len(d) for d in submission["results"].values()) - sum(len(d) for d in scored.values())
        pred_path = out_dir / "predictions_scored.json"
        pred_path.write_text(json.dumps({**submission, "results": scored}))
    metrics = evaluate_temporal_localization(gt_path, pred_path, split=subset)
    if cfg.data.class_split:
        metrics["detections_of_classes_absent_from_split"] = dropped
    return metrics


def evaluate_mr(cfg, rows: list[dict], out_dir: Path) -> dict[str, Any]:
    gt_path, _ = eval_annotations(cfg)
    pred_path = out_dir / "predictions.jsonl"
    pred_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return evaluate_moment_retrieval(gt_path, pred_path)


def evaluate_seg(cfg, stitched: dict, out_dir: Path) -> dict[str, Any]:
    gt_path, split = eval_annotations(cfg)
    fps = cfg.data.sampling.fps
    videos = read_annotations(gt_path, "coin", as_given=True).videos
    arrays = {vid: scores_at(pred, frame_times(videos[vid].duration_sec, fps)).astype(np.float32)  # (n, q) on the
              for vid, pred in stitched.items()}                                                  # evaluator's grid
    pred_path = out_dir / "predictions.npz"
    np.savez_compressed(pred_path, **arrays)
    taxonomy = gt_path.parent / "taxonomy_target_action_mapping.csv"
    return evaluate_segmentation(gt_path, pred_path, fps=fps, split=split,
                                 classes_path=taxonomy if taxonomy.is_file() else None,
                                 background_threshold=cfg.task.background_threshold)


def evaluate_pretraining(cfg, rows: list[dict], classes: dict, out_dir: Path) -> dict[str, Any]:
    """Clip classification: top-1 accuracy (top class among the clip's labels) and mean per-class AP."""
    gt_path, split = eval_annotations(cfg)
    ann = read_annotations(gt_path, split=split)
    index = {name: i for i, name in enumerate(classes["eval"])}
    labels, scores, hits = [], [], []
    for row in rows:
        truth = {index[s.label] for s in ann.videos[row["video_id"]].segments if s.label in index}
        if not truth:
            continue
        scores.append(np.asarray(row["scores"], dtype=np.float64))
        labels.append(min(truth))
        hits.append(int(np.argmax(scores[-1])) in truth)
    (out_dir / "predictions.json").write_text(json.dumps(
        [{"video_id": r["video_id"], "label": r["label"], "score": r["score"]} for r in rows], indent=0))
    ap = class_frame_ap(np.asarray(labels), np.stack(scores)) if scores else np.array([np.nan])
    return {"top1": 100.0 * float(np.mean(hits)) if hits else 0.0,
            "mAP": 100.0 * float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0, "num_clips": len(hits)}


def evaluate_predictions(cfg, predictions: Any, classes: dict, out_dir: Path) -> dict[str, float]:
    """Write `predictions` in the stage's official format under out_dir and return its flat metrics."""
    kind = cfg.task.kind
    if kind == "tal":
        metrics = evaluate_tal(cfg, predictions, classes, out_dir)
        (out_dir / "per_class_ap.json").write_text(json.dumps(metrics["per_class_AP"], indent=1))
    elif kind == "mr":
        metrics = evaluate_mr(cfg, predictions, out_dir)
    elif kind == "seg":
        metrics = evaluate_seg(cfg, predictions, out_dir)
    else:
        metrics = evaluate_pretraining(cfg, predictions, classes, out_dir)
    _warnings(metrics, out_dir)
    return _flat_numbers(metrics)
