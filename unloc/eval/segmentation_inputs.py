"""Action-segmentation evaluation inputs: COIN ground truth sampled at a frame rate, label arrays, per-frame scores.

Ground truth, either
- a COIN json (`{"database": {id: {"subset", "duration", "annotation": [{"id", "segment", "label"}]}}}`, see the COIN
  README): a video of duration d seconds sampled at `fps` has `floor(d * fps)` frames, frame i at time i / fps; a frame
  takes the step of the annotation whose [start, end) holds its time (a later annotation wins on overlap), else
  background. Classes are COIN step ids (`annotation.id`): by default the ids found in the file sorted numerically,
  or the order of a class list (`--classes`: COIN's `taxonomy_target_action_mapping.csv`, or one id per line);
- per-frame label arrays: `.npz` with one int array (t,) per video id, or json `{"labels": {id: [...]}}`; labels are
  column indices, -1 = background; an optional `__classes__` (npz) / `"classes"` (json) names the columns.
Predictions: `.npz` with one float array (t, q) of class scores per video id, or json `{"scores": {id: [[...], ...]}}`;
column k is class k of the ground truth's class list, unless the file names its columns in `__classes__` / `"classes"`
(then they are matched by name). Paper §4, COIN action segmentation.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.eval.inputs import WarningLog, finite_number, input_error, read_json, segment_sec

CLASSES_KEY = "__classes__"


@dataclass(frozen=True)
class FrameLabels:
    """Per-video ground truth: `labels[vid]` (t,) int (-1 = background); `classes` names the columns (or None);
    `all_videos` holds every video of the file, evaluated split or not."""

    labels: dict[str, np.ndarray]
    classes: list[str] | None
    all_videos: frozenset[str]


def _numeric_order(ids: set[str]) -> list[str]:
    """COIN step ids sorted as numbers (non-numeric ids last, by name)."""
    return sorted(ids, key=lambda x: (int(x) if x.isdigit() else float("inf"), x))


def read_class_list(path: str | Path) -> list[str]:
    """Class ids in column order: from COIN's taxonomy csv (`Action Id`, sorted numerically) or one id per line."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
        handle.seek(0)
        if "Action Id" in first:
            return _numeric_order({row["Action Id"].strip() for row in csv.DictReader(handle)})
        return [line.strip() for line in handle if line.strip()]


def coin_frame_labels(video: dict, fps: float, class_of: dict[str, int], source: str, where: str) -> np.ndarray:
    """(t,) int labels of one COIN video sampled at `fps` (see the module docstring)."""
    duration = finite_number(video.get("duration"), source, where, "duration")
    times = np.arange(int(np.floor(duration * fps + 1e-9))) / fps
    labels = np.full(len(times), -1)
    for i, ann in enumerate(video.get("annotation", [])):
        rec = f"{where}.annotation[{i}]"
        if not isinstance(ann, dict) or "id" not in ann:
            raise input_error(source, rec, "needs an 'id' (COIN step id) and a 'segment'")
        start, end = segment_sec(ann.get("segment"), source, rec, "segment", ordered=False)
        if str(ann["id"]) not in class_of:
            raise input_error(source, rec, f"step id {ann['id']!r} ({ann.get('label')!r}) is not in the class list")
        labels[(times >= start) & (times < end)] = class_of[str(ann["id"])]
    return labels


def _read_coin(data: dict, fps: float | None, split: str | None, classes: list[str] | None, source: str) -> FrameLabels:
    if fps is None or fps <= 0:
        raise input_error(source, "", "COIN ground truth needs a positive --fps to sample frames")
    database = data["database"]
    if classes is None:
        ids = {str(a.get("id")) for v in database.values() if isinstance(v, dict) for a in v.get("annotation", [])
               if isinstance(a, dict)}
        classes = _numeric_order(ids)
    class_of = {c: i for i, c in enumerate(classes)}
    labels = {}
    for vid, video in database.items():
        where = f"database[{vid!r}]"
        if not isinstance(video, dict) or not isinstance(video.get("annotation", []), list):
            raise input_error(source, where, "needs 'duration', 'subset' and an 'annotation' list")
        if split is None or video.get("subset") == split:
            labels[vid] = coin_frame_labels(video, fps, class_of, source, where)
    return FrameLabels(labels, classes, frozenset(database))


def _arrays(path: Path, key: str) -> tuple[dict[str, object], list[str] | None]:
    """{video: raw array} and optional class names from an `.npz` or from a json `{key: {...}, "classes"?}`."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        names = arrays.pop(CLASSES_KEY, None)
        return arrays, None if names is None else [str(c) for c in names]
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise input_error(path, "", f"expected an .npz or a json object with a '{key}' object")
    names = data.get("classes")
    return data[key], None if names is None else [str(c) for c in names]


def read_segmentation_ground_truth(path: str | Path, *, fps: float | None = None, split: str | None = None,
                                   classes: list[str] | None = None) -> FrameLabels:
    """Reads COIN json ground truth (sampled at `fps`) or per-frame label arrays (see the module docstring)."""
    path = Path(path)
    if path.suffix != ".npz":
        data = read_json(path)
        if isinstance(data, dict) and "database" in data:
            return _read_coin(data, fps, split, classes, str(path))
    raw, names = _arrays(path, "labels")
    labels = {}
    for vid, values in raw.items():
        arr = np.asarray(values)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise input_error(path, f"video {vid!r}", "labels must be a 1-D list of integer class indices")
        labels[vid] = arr.astype(int)
    return FrameLabels(labels, classes if classes is not None else names, frozenset(labels))


def _check_scores(vid: str, values: object, n_frames: int, source: Path) -> np.ndarray:
    try:
        scores = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise input_error(source, f"video {vid!r}", "scores must be a (frames, classes) array of numbers") from None
    if scores.ndim != 2:
        raise input_error(source, f"video {vid!r}", f"scores must be (frames, classes), got shape {scores.shape}")
    if len(scores) != n_frames:
        raise input_error(source, f"video {vid!r}", f"{len(scores)} frames of scores, the ground truth has {n_frames}")
    bad = np.argwhere(~np.isfinite(scores))
    if len(bad):
        raise input_error(source, f"video {vid!r} frame {bad[0][0]} class {bad[0][1]}", "score is NaN or infinite")
    return scores


def read_segmentation_predictions(path: str | Path, gt: FrameLabels, log: WarningLog) -> list[np.ndarray]:
    """Reads per-frame scores aligned with the ground truth's videos and classes.

    Args:
        path: `.npz` or json scores (see the module docstring).
        gt: evaluated ground truth.
        log: counts videos without predictions (all background) and predictions for videos outside the split.

    Returns:
        Per evaluated video (in `gt.labels` order) a (t, q) float array; -inf where nothing was predicted.

    Raises:
        EvalInputError: unknown video or class, wrong shape, NaN/infinite score.
    """
    path = Path(path)
    raw, names = _arrays(path, "scores")
    for vid in raw:
        if vid not in gt.all_videos:
            raise input_error(path, f"video {vid!r}", "is not in the ground truth")
    outside = [v for v in raw if v not in gt.labels]
    log.add("seg.predictions_outside_split_ignored", f"video {outside[0]!r}" if outside else "", len(outside))
    columns = None  # where each score column goes in the ground-truth class order
    if names is not None and gt.classes is not None:
        col_of = {c: i for i, c in enumerate(gt.classes)}
        unknown = [c for c in names if c not in col_of]
        if unknown:
            raise input_error(path, CLASSES_KEY, f"class {unknown[0]!r} is not in the ground-truth class list")
        columns = np.array([col_of[c] for c in names], dtype=int)
    width = len(names) if names is not None else None
    q = len(gt.classes) if gt.classes is not None else None
    scores: list[np.ndarray | None] = []
    for vid, y in gt.labels.items():
        if vid not in raw:
            log.add("seg.videos_without_prediction", f"video {vid!r} (all frames background)")
            scores.append(None)
            continue
        s = _check_scores(vid, raw[vid], len(y), path)
        width = width if width is not None else s.shape[1]
        if s.shape[1] != width or (columns is None and q is not None and width != q):
            expected = q if columns is None else width
            raise input_error(path, f"video {vid!r}", f"{s.shape[1]} score columns, expected {expected}")
        if columns is not None:
            full = np.full((len(y), q), -np.inf)  # classes the file does not score rank last
            full[:, columns] = s
            s = full
        scores.append(s)
    q = q if q is not None else (width or 0)
    return [np.full((len(y), q), -np.inf) if s is None else s for s, y in zip(scores, gt.labels.values())]
