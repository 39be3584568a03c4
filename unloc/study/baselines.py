"""Trivial baselines of a stage, scored by the very evaluator that scores the learned model (issue #5).

For the stage's evaluation set, `baseline_metrics(cfg, out_dir)` builds predictions that need no model and passes them
to `unloc.run.evaluate.evaluate_predictions`, so each learned number in a report can sit next to what chance or a constant
guess earns on the same files:

- moment retrieval: `whole_video` (one window [0, duration] per query), `random_windows` (10 windows per query,
  length uniform in (0, duration], start uniform where it fits, random score) and `prior_windows` (the training
  set's mean window length, as a fraction of the video, at the constant positions that hit the most training windows
  at IoU >= 0.5, best first: `prior_positions`); on QVHighlights the saliency scores are uniform (`whole_video`,
  `prior_windows`) or random (`random_windows`) so the `HL-*` keys exist too;
- temporal action localization: `whole_video` (every evaluation class present in the evaluated split, on
  [0, duration] of every video, scored by its training frequency), `random_windows` (20 random (class, window,
  score) detections per video, classes drawn from the same list) and `prior_windows` (each of those classes on the
  `prior_positions` windows of the training segments, scored by training frequency times the position's rank) and
  `class_prior_windows` (each of those classes on the 20 windows of many lengths that hit the most of the class's
  training segments, shrunk toward all training segments; unseen zero-shot classes take the pooled segments of the
  training classes: `baseline_windows.class_prior_windows`). No baseline looks at a video, so every class is predicted
  in every evaluated video: a class's AP is bounded by the share of videos showing it;
- action segmentation: `all_background` (every score below `task.background_threshold`) and `majority_class` (every
  frame predicts the step class with the most evaluation frames);
- video pretraining: `class_prior` (every clip scored by the training frequency of each class).

The videos, queries and class lists are those the learned run uses (`unloc.run.experiment` builds its datasets from the
same files and splits), so the baselines answer "how much does the model add" on exactly the evaluated set.
Paper §4 (evaluation protocols of the three tasks).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from unloc.data.build import read_class_split
from unloc.data.formats import read_annotations
from unloc.data.formats.fileio import read_names
from unloc.data.records import AnnotationSet
from unloc.eval.segmentation_inputs import read_class_list, read_segmentation_ground_truth
from unloc.run.evaluate import eval_annotations, evaluate_predictions
from unloc.study.baseline_windows import class_prior_windows, prior_positions, random_windows

BASELINES = {
    "mr": ("whole_video", "random_windows", "prior_windows"),
    "tal": ("whole_video", "random_windows", "prior_windows", "class_prior_windows"),
    "seg": ("all_background", "majority_class"),
    "video_pretrain": ("class_prior",),
}
MR_RANDOM_WINDOWS = 10
TAL_RANDOM_DETECTIONS = 20
CLIP_SEC = 2.0  # QVHighlights saliency clips
COIN_TAXONOMY = "taxonomy_target_action_mapping.csv"


def run_classes(cfg) -> dict[str, list[str]]:
    """The class lists a learned run of `cfg` uses (what its classes.json holds), following `unloc.run.experiment`.

    Training: `data.classes_file`, else the seen side of `data.class_split`, else the training file's classes.
    Evaluation: the unseen side of `data.class_split`, else the training list. Moment retrieval has no classes.
    """
    if cfg.task.kind == "mr":
        return {"train": [], "eval": []}
    if cfg.data.classes_file:
        train = read_names(cfg.data.classes_file)
    elif cfg.data.class_split:
        train = read_class_split(cfg.data.class_split, "seen")
    else:
        train = list(_annotations(cfg, "train").classes)
    evaluated = read_class_split(cfg.data.class_split, "unseen") if cfg.data.class_split else train
    return {"train": list(train), "eval": list(evaluated)}


def _annotations(cfg, role: str) -> AnnotationSet:
    source = cfg.data.source(role)
    return read_annotations(Path(source.annotations), split=source.split)


def training_prior(cfg, names: list[str]) -> np.ndarray:
    """(q,) share of the training file's segments (of its training split) labelled with each of `names`.

    Every segment of the split counts, before any zero-shot class filter: the prior is the dataset's label
    distribution. A class without training segments gets 0.
    """
    counts = Counter(s.label for v in _annotations(cfg, "train").videos.values() for s in v.segments)
    total = sum(counts.values())
    if total == 0:
        raise ValueError(f"{cfg.data.source('train').annotations}: no labelled segment to take a class prior from")
    return np.array([counts.get(name, 0) / total for name in names], dtype=np.float64)


def _relative_spans(pairs) -> np.ndarray:
    """(m, 2) [start, end] / duration of (start_sec, end_sec, duration_sec) triples."""
    rows = [(s / d, e / d) for s, e, d in pairs if d > 0]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _mr_prior(cfg) -> np.ndarray:
    train = _annotations(cfg, "train")
    return prior_positions(_relative_spans((w[0], w[1], q.duration_sec) for q in train.queries for w in q.windows))


def _tal_prior(cfg) -> np.ndarray:
    train = _annotations(cfg, "train")
    return prior_positions(_relative_spans((s.start_sec, s.end_sec, v.duration_sec) for v in train.videos.values()
                                           for s in v.segments))


def _tal_class_windows(cfg, classes: dict, names: list[str]) -> dict[str, np.ndarray]:
    """`class_prior_windows` of `names` from the training split's segments of the run's training classes (zero-shot:
    the seen classes; the unseen ones' training segments are never read)."""
    train = _annotations(cfg, "train")
    seen = set(classes["train"])
    rows = [(s.start_sec, s.end_sec, v.duration_sec, s.label) for v in train.videos.values() for s in v.segments
            if s.label in seen and v.duration_sec > 0]
    if not rows:
        raise ValueError(f"{cfg.data.source('train').annotations}: no training segment of a training class")
    spans = _relative_spans(r[:3] for r in rows)
    return class_prior_windows(spans, [r[3] for r in rows], names, len(train.videos))


def _mr_predictions(cfg, name: str, rng: np.random.Generator) -> list[dict]:
    """QVHighlights-style rows {"qid", "vid", "pred_relevant_windows", "pred_saliency_scores"?}, one per query."""
    ann = _annotations(cfg, "eval")
    saliency = ann.format == "qvhighlights" and cfg.task.saliency
    prior = _mr_prior(cfg) if name == "prior_windows" else None
    rows = []
    for query in ann.queries:
        duration_sec = query.duration_sec
        if name == "whole_video":
            windows = np.array([[0.0, duration_sec, 1.0]])
        elif prior is not None:
            windows = np.concatenate([prior * duration_sec, 1.0 - np.arange(len(prior))[:, None] / len(prior)], 1)
        else:
            windows = random_windows(rng, duration_sec, MR_RANDOM_WINDOWS)
        row = {"qid": query.query_id, "vid": query.video_id, "pred_relevant_windows": windows.tolist()}
        if saliency:
            n_clips = max(int(duration_sec / CLIP_SEC + 1e-6), 1)  # the clips of `tasks.moment_retrieval`
            row["pred_saliency_scores"] = (rng.random(n_clips) if name == "random_windows" else np.ones(n_clips)).tolist()
        rows.append(row)
    return rows


def _tal_predictions(cfg, name: str, classes: dict, rng: np.random.Generator) -> dict:
    """An ActivityNet-1.3 submission {"version", "results": {video_id: [{"label", "score", "segment"}]}, ...}.

    Only the evaluation classes that label a segment of the evaluated split are predicted: the others have no AP, and
    the evaluator drops (or, when no ground truth names them, rejects) their detections.
    """
    gt_path, split = eval_annotations(cfg)
    videos = read_annotations(gt_path, split=split or "validation").videos  # the split `evaluate_tal` scores
    known = set(classes["eval"])
    present = {s.label for v in videos.values() for s in v.segments}
    names = [c for c in classes["eval"] if c in present]
    if not names:
        raise ValueError(f"{gt_path}: no segment of split {split or 'validation'!r} has an evaluation class")
    prior = training_prior(cfg, names) if name in ("whole_video", "prior_windows") else None
    positions = _tal_prior(cfg) if name == "prior_windows" else None
    per_class = _tal_class_windows(cfg, classes, names) if name == "class_prior_windows" else None
    results = {}
    for video_id, video in videos.items():
        if video.segments and not any(s.label in known for s in video.segments):
            continue  # as the run's evaluation dataset: no segment of the evaluated classes, not predicted
        if name == "whole_video":
            results[video_id] = [{"label": c, "score": float(p), "segment": [0.0, video.duration_sec]}
                                 for c, p in zip(names, prior)]
        elif per_class is not None:
            results[video_id] = [{"label": c, "score": float(score),
                                  "segment": [float(s * video.duration_sec), float(e * video.duration_sec)]}
                                 for c in names for s, e, score in per_class[c]]
        elif positions is not None:
            results[video_id] = [{"label": c, "score": float(p) * (1.0 - k / len(positions)),
                                  "segment": [float(s * video.duration_sec), float(e * video.duration_sec)]}
                                 for c, p in zip(names, prior) for k, (s, e) in enumerate(positions)]
        else:
            picks = rng.integers(len(names), size=TAL_RANDOM_DETECTIONS)
            rows = random_windows(rng, video.duration_sec, TAL_RANDOM_DETECTIONS)
            results[video_id] = [{"label": names[c], "score": float(score), "segment": [float(s), float(e)]}
                                 for c, (s, e, score) in zip(picks, rows)]
    return {"version": "VERSION 1.3", "results": results, "external_data": {"used": False}}


def majority_step(cfg) -> int:
    """Column (class index in the evaluator's order) of the step class covering the most evaluation frames."""
    gt_path, split = eval_annotations(cfg)
    taxonomy = gt_path.parent / COIN_TAXONOMY
    gt = read_segmentation_ground_truth(gt_path, fps=cfg.data.sampling.fps, split=split,
                                       classes=read_class_list(taxonomy) if taxonomy.is_file() else None)
    labels = np.concatenate([y for y in gt.labels.values()] + [np.zeros(0, dtype=int)])
    labels = labels[labels >= 0]
    if not len(labels):
        raise ValueError(f"{gt_path}: split {split!r} has no step frame at {cfg.data.sampling.fps} fps")
    return int(np.bincount(labels).argmax())


def _seg_predictions(cfg, name: str, classes: dict) -> dict[str, dict[str, np.ndarray]]:
    """Stitched per-frame scores {video_id: {"scores": (K, q), "timestamps_sec": (K,)}}, K samples at the stage's fps.

    Scores are `background_threshold` - 1 (background) everywhere except, for `majority_class`, the majority column
    at `background_threshold` + 1.
    """
    fps = cfg.data.sampling.fps
    if fps <= 0:
        raise ValueError(f"{cfg.name}: segmentation baselines need data.sampling.fps > 0, got {fps}")
    low, high = cfg.task.background_threshold - 1.0, cfg.task.background_threshold + 1.0
    q = len(classes["eval"])
    column = majority_step(cfg) if name == "majority_class" else None
    if column is not None and column >= q:
        raise ValueError(f"{cfg.name}: majority step column {column} outside the {q} evaluation classes")
    out = {}
    for video_id, video in _annotations(cfg, "eval").videos.items():
        k = max(int(np.floor(video.duration_sec * fps + 1e-9)), 1)
        scores = np.full((k, q), low, dtype=np.float32)  # (K, q)
        if column is not None:
            scores[:, column] = high
        out[video_id] = {"scores": scores, "timestamps_sec": np.arange(k) / fps}
    return out


def _pretrain_predictions(cfg, classes: dict) -> list[dict]:
    """One row per evaluation clip {"video_id", "scores": (q,), "label", "score"}, every clip scored by the prior."""
    names = classes["eval"]
    prior = training_prior(cfg, names)
    best = int(np.argmax(prior))
    return [{"video_id": video_id, "scores": prior.copy(), "label": names[best], "score": float(prior[best])}
            for video_id in _annotations(cfg, "eval").videos]


def baseline_predictions(cfg, classes: dict | None = None, seed: int = 0) -> dict[str, Any]:
    """Every baseline of the stage's task, in the format `evaluate_predictions` takes for that task.

    Args:
        cfg: the stage's `ExperimentConfig`.
        classes: {"train": names, "eval": names} as in a run's classes.json; None = `run_classes(cfg)`.
        seed: seed of the random baselines (each baseline draws from its own stream).

    Returns:
        {baseline name: predictions}, names from `BASELINES[cfg.task.kind]`.
    """
    kind = cfg.task.kind
    classes = classes if classes is not None else run_classes(cfg)
    out = {}
    for i, name in enumerate(BASELINES[kind]):
        rng = np.random.default_rng([seed, i])
        if kind == "mr":
            out[name] = _mr_predictions(cfg, name, rng)
        elif kind == "tal":
            out[name] = _tal_predictions(cfg, name, classes, rng)
        elif kind == "seg":
            out[name] = _seg_predictions(cfg, name, classes)
        else:
            out[name] = _pretrain_predictions(cfg, classes)
    return out


def baseline_metrics(cfg, out_dir: str | Path, seed: int = 0, classes: dict | None = None) -> dict[str, dict[str, float]]:
    """Score the stage's trivial baselines with the run's evaluator.

    Args:
        cfg: the stage's `ExperimentConfig`.
        out_dir: each baseline writes its prediction file, warnings and metrics.json into out_dir/<baseline name>/.
        seed: seed of the random baselines.
        classes: {"train": names, "eval": names} (a run's classes.json); None = the lists the run would use.

    Returns:
        {baseline name: flat metrics of `unloc.run.evaluate.evaluate_predictions`} (percent).
    """
    classes = classes if classes is not None else run_classes(cfg)
    metrics = {}
    for name, predictions in baseline_predictions(cfg, classes, seed).items():
        target = Path(out_dir) / name
        target.mkdir(parents=True, exist_ok=True)
        metrics[name] = evaluate_predictions(cfg, predictions, classes, target)
        (target / "metrics.json").write_text(json.dumps(metrics[name], indent=1, sort_keys=True))
    return metrics


__all__ = ["BASELINES", "baseline_metrics", "baseline_predictions", "majority_step", "run_classes",
           "training_prior"]
