"""Apply a trained UnLoc run to any video: moment retrieval, temporal action localization or action segmentation.

`localize(run, video, queries=..., classes=..., segment=...)` is the notebook form of `unloc localize` (paper §3-§4:
one model, three tasks). The run directory (`unloc.run.experiment.run_experiment`) fixes the task, the sampling and the
weights; the caller gives the texts: free-text queries for a moment-retrieval run, class names for a localization or
segmentation run (default: the run's evaluation classes from classes.json). There are no annotations, so each
prediction runs through the same decoding, prompting and Soft-NMS code as evaluation, in seconds:

- localization / retrieval: F frames at floor(linspace) per window of `window_sec` (a long video is cut into
  overlapping windows and merged by one Soft-NMS, `unloc.infer.windows`); `window_sec` defaults to the 90th
  percentile of the run's training-video durations (read from the run's training annotation file, so most videos
  like the training ones are processed whole, exactly as evaluated), or `FALLBACK_WINDOW_SEC` when that file cannot
  be read on this machine (the result says which);
- segmentation: the run's fixed-rate windows over the whole video, stitched, thresholded at
  `TaskConfig.background_threshold`, and turned into labelled segments; the per-frame scores stay in the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from unloc.config import ExperimentConfig
from unloc.data.build import frame_transform
from unloc.data.clips import FrameDataset
from unloc.data.datasets import TaskDataset, eval_batches
from unloc.data.formats import read_annotations
from unloc.data.sampling import FpsSampling
from unloc.data.video import VideoFile
from unloc.eval.segmentation import predicted_labels
from unloc.infer.windows import mr_candidates, tal_candidates, window_spans, windowed_predictions
from unloc.model.clip_loader import build_tokenizer
from unloc.ops.nms import NmsResult
from unloc.run.experiment import load_run
from unloc.tasks.base import kept_rows
from unloc.tasks.inference import build_task, predict_all

FALLBACK_WINDOW_SEC = 150.0  # the QVHighlights video length, the longest input of the paper's MR benchmarks
WINDOW_PERCENTILE = 90.0
Loaded = tuple[ExperimentConfig, nn.Module, dict]


class LocalizeError(ValueError):
    """The run and the request do not fit (e.g. queries for a localization run); the message says what to change."""


def default_window_sec(cfg: ExperimentConfig) -> tuple[float, str]:
    """The window of a localization / retrieval run and where it came from.

    Returns:
        (seconds, source): the 90th percentile of the training videos' durations of `cfg.data.train` with source
        'training annotations', or (`FALLBACK_WINDOW_SEC`, a reason) when the file is missing or unreadable.
    """
    source = cfg.data.train
    try:
        ann = read_annotations(Path(source.annotations), split=source.split)
    except (OSError, ValueError) as err:
        return FALLBACK_WINDOW_SEC, f"fallback ({type(err).__name__}: {err})"
    durations = [v.duration_sec for v in ann.videos.values() if v.duration_sec > 0]
    durations = durations or [q.duration_sec for q in ann.queries if q.duration_sec > 0]
    if not durations:
        return FALLBACK_WINDOW_SEC, f"fallback ({source.annotations} gives no durations)"
    return float(np.percentile(durations, WINDOW_PERCENTILE)), f"training annotations {source.annotations}"


def _load(run: str | Path | Loaded, device: str | torch.device) -> tuple[Loaded, str | None]:
    if isinstance(run, tuple):
        cfg, model, classes = run
        return (cfg, model.to(device).eval(), classes), None
    if not Path(run).is_dir():
        raise FileNotFoundError(f"run directory {run} does not exist")
    try:
        return load_run(run, device=device), str(run)
    except yaml.YAMLError as err:
        raise LocalizeError(f"{Path(run) / 'config.yaml'} is not valid YAML ({getattr(err, 'problem', err)})") from err
    except json.JSONDecodeError as err:
        raise LocalizeError(f"{Path(run) / 'classes.json'} is not valid JSON ({err})") from err
    except ValueError as err:  # e.g. a damaged model.safetensors or a config value out of the schema (names it)
        raise LocalizeError(f"run directory {run} cannot be loaded: {err}") from err


def _texts(values: Sequence[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    texts = [v.strip() for v in values]
    if not texts or not all(texts):
        raise LocalizeError(f"{what} must be non-empty strings, got {list(values)!r}")
    if len(set(texts)) != len(texts):
        raise LocalizeError(f"{what} repeat: {texts!r}")
    return texts


def _check_request(cfg: ExperimentConfig, queries, classes, segment: bool, window_sec) -> str:
    """The mode ('mr', 'tal', 'seg') of the run, after checking that the request fits it."""
    kind = cfg.task.kind
    if kind not in ("mr", "tal", "seg"):
        raise LocalizeError(f"the run's task is {kind!r}: localize needs a 'tal', 'mr' or 'seg' run")
    if segment and kind != "seg":
        raise LocalizeError(f"segmentation was asked for, but the run is a {kind!r} run (train a 'seg' run)")
    if kind == "mr":
        if classes is not None:
            raise LocalizeError("the run does moment retrieval: give free-text queries, not classes")
        if not queries:
            raise LocalizeError("the run does moment retrieval: give at least one query")
    elif queries is not None:
        raise LocalizeError(f"queries are for moment-retrieval runs; this {kind!r} run takes class names")
    if kind == "seg" and window_sec is not None:
        raise LocalizeError("window_sec applies to 'tal' / 'mr' runs; segmentation uses the run's fixed-rate windows")
    return kind


def _class_list(classes: list[str] | None, run_classes: dict) -> list[str]:
    if classes is not None:
        return classes
    names = run_classes.get("eval") or run_classes.get("train")
    if not names:
        raise LocalizeError("the run has no classes.json with class names: pass the classes to look for")
    return list(names)


def localize(run: str | Path | Loaded, video_path: str | Path, *, queries: Sequence[str] | None = None,
             classes: Sequence[str] | None = None, segment: bool = False, window_sec: float | None = None,
             top_k: int = 10, device: str | torch.device = "cpu", batch_size: int = 2) -> dict[str, Any]:
    """Predictions of a trained run on one video, in seconds.

    Args:
        run: a run directory, or what `unloc.run.experiment.load_run` returned (to reuse a loaded model).
        video_path: any video decord reads.
        queries: moment retrieval: the sentences to find.
        classes: localization / segmentation: class names to look for (default: the run's evaluation classes).
        segment: ask for segmentation (the run must be a 'seg' run; a 'seg' run segments anyway).
        window_sec: localization / retrieval window (default `default_window_sec`; math.inf = never split).
        top_k: localization / retrieval: segments kept per video (TAL) or per query (MR) after Soft-NMS.
        device: where the model runs.
        batch_size: windows per forward pass.

    Returns:
        {"video", "duration_sec", "mode", "run", "predictions", ...}. predictions: MR [{"query", "segments":
        [{"start_sec", "end_sec", "score"}, ...]}] per query in the given order; TAL [{"label", "start_sec",
        "end_sec", "score"}] best first; segmentation [{"label", "start_sec", "end_sec", "score"}] in time order
        (score: mean probability of the label over the segment) plus "frames": {"times_sec" (K,), "scores" (K, q)
        logits, "labels" (K,) class index or -1 = background} as numpy arrays (dropped by `to_json` unless asked).

    Raises:
        FileNotFoundError: the run directory is missing or incomplete. LocalizeError: the request does not fit the
        run, or a file of the run is damaged. unloc.data.video.VideoDecodeError: the video cannot be decoded (names
        the file).
    """
    if top_k < 1:
        raise LocalizeError(f"top_k must be >= 1, got {top_k}")
    queries, classes = _texts(queries, "queries"), _texts(classes, "classes")
    (cfg, model, run_classes), run_dir = _load(run, device)
    mode = _check_request(cfg, queries, classes, segment, window_sec)
    if getattr(model, "mode", "mid") == "no_text":
        raise LocalizeError("the run's model has no text tower ('no_text' ablation): it cannot take new texts")
    tokenizer = build_tokenizer(cfg.model.text_tower or cfg.model.tower)
    device = next(model.parameters()).device
    out: dict[str, Any] = {"video": str(video_path), "run": run_dir, "mode": mode}
    if mode == "seg":
        names = _class_list(classes, run_classes)
        return {**out, "classes": names, **_segment(cfg, model, tokenizer, names, video_path, device)}
    video = VideoFile(video_path)
    duration = video.duration_sec
    source = "argument"
    if window_sec is None:
        window_sec, source = default_window_sec(cfg)
    spans = window_spans(duration, window_sec)
    nms = replace(cfg.task.nms, top_k=top_k)
    num_frames = cfg.data.sampling.num_frames
    out.update(duration_sec=duration, window_sec=window_sec, window_source=source, num_frames=num_frames,
               windows=[list(span) for span in spans])
    if mode == "mr":
        text = tokenizer(queries).to(device)  # (c, n)
        result = windowed_predictions(video, spans, num_frames, frame_transform(cfg.data, False), lambda b: mr_candidates(model, b, text),
                                      nms, device, batch_size)
        return {**out, "queries": queries, "predictions": _mr_rows(result, queries)}
    names = _class_list(classes, run_classes)
    task = build_task(replace(cfg.task, nms=nms), class_names=names, tokenizer=tokenizer)
    result = windowed_predictions(video, spans, num_frames, frame_transform(cfg.data, False), lambda b: tal_candidates(task, model, b),
                                  nms, device, batch_size)
    return {**out, "classes": names, "predictions": [
        {"label": names[c], "start_sec": s, "end_sec": e, "score": score} for s, e, score, c in kept_rows(result, 0)]}


def _mr_rows(result: NmsResult, queries: list[str]) -> list[dict]:
    return [{"query": query, "segments": [{"start_sec": s, "end_sec": e, "score": score}
                                          for s, e, score, _ in kept_rows(result, j)]}
            for j, query in enumerate(queries)]


def label_runs(labels: np.ndarray, times_sec: np.ndarray, duration_sec: float) -> list[tuple[int, float, float, slice]]:
    """Maximal runs of one non-background label in a per-sample label sequence, in seconds.

    Sample k covers [times_sec[k], times_sec[k + 1]); the last one ends at `duration_sec`.

    Args:
        labels: (K,) int labels, -1 = background; times_sec: (K,) increasing sample times.
        duration_sec: end of the last sample.

    Returns:
        (label, start_sec, end_sec, samples) per run, in time order.
    """
    labels = np.asarray(labels)
    if not len(labels):
        return []
    starts = np.concatenate([[0], np.flatnonzero(labels[1:] != labels[:-1]) + 1])
    stops = np.concatenate([starts[1:], [len(labels)]])
    ends = [float(times_sec[k]) if k < len(labels) else float(duration_sec) for k in stops]
    return [(int(labels[a]), float(times_sec[a]), end, slice(int(a), int(b)))
            for a, b, end in zip(starts, stops, ends) if labels[a] >= 0]


def _segment(cfg: ExperimentConfig, model: nn.Module, tokenizer, names: list[str], video_path: str | Path,
             device: torch.device) -> dict[str, Any]:
    """Segmentation of the whole video through the evaluation dataset and task code."""
    sampling = cfg.data.sampling
    if not sampling.fps > 0:
        raise LocalizeError("the 'seg' run samples with linspace (sampling.fps = 0); segmentation needs fps windows")
    clips = FrameDataset([str(video_path)], FpsSampling(sampling.fps, sampling.window, "all"), frame_transform(cfg.data, False),
                         video_ids=["video"], skip_bad=False)
    dataset = TaskDataset.unannotated(clips, class_names=names)
    task = build_task(cfg.task, class_names=names, tokenizer=tokenizer)
    stitched = predict_all(task, model, eval_batches(dataset), device=device)["video"]
    scores, times = stitched["scores"], stitched["timestamps_sec"]  # (K, q), (K,)
    duration = VideoFile(video_path).duration_sec
    labels = predicted_labels(scores, cfg.task.background_threshold)
    probs = 1.0 / (1.0 + np.exp(-scores.astype(np.float64)))
    rows = [{"label": names[c], "start_sec": s, "end_sec": e, "score": float(probs[run, c].mean())}
            for c, s, e, run in label_runs(labels, times, duration)]
    window_sec = sampling.window / sampling.fps
    return {"duration_sec": duration, "window_sec": window_sec, "sample_fps": sampling.fps,
            "windows": [[start / sampling.fps, min((start + sampling.window) / sampling.fps, duration)]
                        for _, start in clips.items],
            "predictions": rows, "frames": {"times_sec": times, "scores": scores, "labels": labels}}


def to_json(result: dict[str, Any], *, frame_scores: bool = False) -> dict[str, Any]:
    """The result as JSON-ready data: segmentation's per-frame arrays are dropped, or listed with `frame_scores`
    (labels as class names, null = background); an infinite window becomes null."""
    out = {k: v for k, v in result.items() if k != "frames"}
    if isinstance(out.get("window_sec"), float) and math.isinf(out["window_sec"]):
        out["window_sec"] = None
    frames = result.get("frames")
    if frame_scores and frames is not None:
        names = result["classes"]
        out["frames"] = {"times_sec": np.asarray(frames["times_sec"]).tolist(),
                         "scores": np.asarray(frames["scores"]).tolist(),
                         "labels": [names[c] if c >= 0 else None for c in np.asarray(frames["labels"]).tolist()]}
    return out


__all__ = ["FALLBACK_WINDOW_SEC", "LocalizeError", "default_window_sec", "label_runs", "localize", "to_json"]
