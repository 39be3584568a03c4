"""Qualitative examples for the study notebooks: one evaluation video's ground truth and predictions on a timeline
(the paper's Fig. 3), read from a finished run directory, and the demo's default video and query."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from unloc.data.formats import read_annotations
from unloc.data.paths import resolve_videos
from unloc.eval import predicted_labels, read_segmentation_ground_truth
from unloc.eval.segmentation_inputs import read_class_list
from unloc.infer.timeline import plot_timeline
from unloc.run.evaluate import eval_annotations
from unloc.study.figures.classes import confusion_matrix


def _eval_set(cfg):
    source = cfg.data.source("eval")
    return read_annotations(Path(source.annotations), split=source.split)


def example_video(cfg, index: int = 0) -> tuple[str, Path]:
    """The `index`-th evaluation video of a stage (by id order of the file) and its path."""
    ann = _eval_set(cfg)
    found = resolve_videos(list(ann.videos), Path(cfg.data.video_root)).found
    ids = [v for v in ann.videos if v in found]
    if not ids:
        raise FileNotFoundError(f"no evaluation video of {cfg.data.source('eval').annotations} under "
                                f"{cfg.data.video_root}")
    video_id = ids[index % len(ids)]
    return video_id, Path(found[video_id])


def plot_run_example(run_dir: str | Path, cfg, out_png: str | Path, index: int = 0, top: int = 3) -> Path:
    """Timeline of one evaluation video: ground truth and the run's saved predictions (top `top` per row)."""
    run = Path(run_dir)
    video_id, path = example_video(cfg, index)
    ann = _eval_set(cfg)
    kind = cfg.task.kind
    if kind == "mr":
        queries = [q for q in ann.queries if q.video_id == video_id][:3]
        rows = {int(r["qid"]): r for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}
        preds = [(q.text, s, e, score) for q in queries for s, e, score in rows[q.query_id]["pred_relevant_windows"][:top]]
        truth = [(q.text, s, e) for q in queries for s, e in q.windows]
    elif kind == "tal":
        results = json.loads((run / "predictions.json").read_text())["results"].get(video_id, [])
        preds = [(d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in results[:top * 3]]
        truth = [(s.label, s.start_sec, s.end_sec) for s in ann.videos[video_id].segments]
    elif kind == "seg":
        scores = np.load(run / "predictions.npz")[video_id]  # (n, q) on the evaluator's grid
        names = json.loads((run / "classes.json").read_text())["eval"]
        fps = cfg.data.sampling.fps
        best = scores.argmax(1)
        on = scores.max(1) > cfg.task.background_threshold
        preds = [(names[best[i]], i / fps, (i + 1) / fps, 1.0) for i in range(len(best)) if on[i]]
        truth = [(s.label, s.start_sec, s.end_sec) for s in ann.videos[video_id].segments]
    else:
        raise ValueError(f"no timeline for task kind {kind!r}")
    return plot_timeline(path, preds, out_png, ground_truth=truth, title=f"{cfg.name}: {video_id}")


def segmentation_confusion(run_dir: str | Path, cfg) -> tuple[np.ndarray, list[str]]:
    """Frame counts of (true, predicted) step over the run's evaluation videos, on the evaluator's own frame grid and
    class order; label 0 is background. Returns the matrix and its labels ("background", then the step names)."""
    run = Path(run_dir)
    gt_path, split = eval_annotations(cfg)
    taxonomy = gt_path.parent / "taxonomy_target_action_mapping.csv"
    classes = read_class_list(taxonomy) if taxonomy.is_file() else None
    truth = read_segmentation_ground_truth(gt_path, fps=cfg.data.sampling.fps, split=split, classes=classes)
    names = json.loads((run / "classes.json").read_text())["eval"]
    true, predicted = [], []
    with np.load(run / "predictions.npz", allow_pickle=False) as scores:
        for video_id, labels in truth.labels.items():
            if video_id in scores.files:
                frames = scores[video_id][: len(labels)]  # (t, q) on the evaluator's grid
                true.append(labels[: len(frames)] + 1)
                predicted.append(predicted_labels(frames, cfg.task.background_threshold) + 1)
    if not true:
        raise FileNotFoundError(f"{run / 'predictions.npz'}: no prediction for any evaluation video of {gt_path}")
    return confusion_matrix(np.concatenate(true), np.concatenate(predicted), len(names) + 1), ["background", *names]


def demo_defaults(cfg) -> dict:
    """The demo's default input: the first evaluation video of the run's stage and, for MR, its first query."""
    video_id, path = example_video(cfg)
    queries = [q.text for q in _eval_set(cfg).queries if q.video_id == video_id][:1]
    return {"video": str(path), "queries": queries or None}
