"""Action-segmentation evaluation ground truth: COIN through the official-format reader, or per-frame label arrays.

Ground truth, either
- a COIN json, read by `unloc.data.formats.coin` as given (the documented `{"database": {id: {"subset", "duration",
  "annotation": [{"id", "segment", "label"}]}}}`): a video of duration d seconds sampled at `fps` has
  `floor(d * fps)` frames, frame i at time i / fps; a frame takes the step of the annotation whose [start, end) holds
  its time (a later annotation wins on overlap), else background. Classes are COIN step ids: the reader's (the
  taxonomy csv beside the file, else the ids met, in numeric order), or the order of a class list (`--classes`:
  COIN's `taxonomy_target_action_mapping.csv`, read by the same reader, or one id per line);
- per-frame label arrays: `.npz` with one int array (t,) per video id, or json `{"labels": {id: [...]}}`; labels are
  column indices, -1 = background; an optional `__classes__` (npz) / `"classes"` (json) names the columns.
Predictions are read by `unloc.eval.seg_submission`. Paper §4, COIN action segmentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.data.formats.builder import same_split
from unloc.data.formats.coin import load_coin_taxonomy, read_coin
from unloc.data.formats.fileio import read_head, read_lines
from unloc.data.formats.quirks import input_error
from unloc.data.records import VideoRecord
from unloc.eval.inputs import load_npz, read_json
from unloc.eval.quirks import QuirkLog

CLASSES_KEY = "__classes__"
MAX_FRAMES = 10_000_000  # per video: 115 days at 1 fps; more is a wrong duration or fps, not a video


@dataclass(frozen=True)
class FrameLabels:
    """Per-video ground truth: `labels[vid]` (t,) int (-1 = background); `classes` names the columns (or None);
    `all_videos` holds every video of the file, evaluated split or not."""

    labels: dict[str, np.ndarray]
    classes: list[str] | None
    all_videos: frozenset[str]


def read_class_list(path: str | Path) -> list[str]:
    """Class ids in column order: COIN's taxonomy csv (`Action Id`, in numeric order) or one id per line."""
    path = Path(path)
    if "Action Id" in read_head(path, 4096).split("\n", 1)[0]:
        return [str(step) for step in sorted(load_coin_taxonomy(path))]
    return class_names([line.strip() for _, line in read_lines(path)], path, "")


def class_names(names: object, source: str | Path, where: str) -> list[str]:
    """Column names: a list (or array) of distinct strings or integer ids; a repeated name is an error."""
    plain_list = isinstance(names, list) and all(isinstance(c, str) or type(c) is int for c in names)
    arr = np.asarray(names) if isinstance(names, np.ndarray) else None
    if not plain_list and (arr is None or arr.ndim != 1 or not (
            arr.dtype.kind in "US" or np.issubdtype(arr.dtype, np.integer))):
        raise input_error(source, where, "class names must be a 1-D list of strings or integer ids")
    out = [str(c) for c in (names if plain_list else arr.tolist())]
    seen: set[str] = set()
    dup = next((c for c in out if c in seen or seen.add(c)), None)
    if dup is not None:
        raise input_error(source, where, f"class {dup!r} is listed twice: its columns would overwrite each other")
    return out


def frame_times(duration_sec: float, fps: float) -> np.ndarray:
    """(t,) times in seconds of the frames the evaluator samples: floor(duration * fps) frames, frame i at i / fps."""
    return np.arange(int(np.floor(duration_sec * fps + 1e-9))) / fps


def coin_frame_labels(video: VideoRecord, fps: float, column: dict[int, int]) -> np.ndarray:
    """(t,) int labels of one COIN video sampled at `fps` (see the module docstring); `column` maps the reader's
    class index to the evaluated column."""
    times = frame_times(video.duration_sec, fps)
    labels = np.full(len(times), -1)
    for seg in video.segments:
        labels[(times >= seg.start_sec) & (times < seg.end_sec)] = column[seg.class_idx]
    return labels


def _read_coin(path: Path, fps: float | None, split: str | None, classes: list[str] | None,
               log: QuirkLog) -> FrameLabels:
    if fps is None or not fps > 0 or not np.isfinite(fps):
        raise input_error(path, "", "COIN ground truth needs a positive --fps to sample frames")
    ann = read_coin(path, as_given=True)
    log.add_report(ann.quirks)
    evaluated = {vid: v for vid, v in ann.videos.items() if split is None or same_split(split, v.split)}
    classes = classes if classes is not None else list(ann.class_ids)
    col_of = {c: i for i, c in enumerate(classes)}
    column = {}
    for vid, video in evaluated.items():
        for i, seg in enumerate(video.segments):
            step = ann.class_ids[seg.class_idx]
            if step not in col_of:
                raise input_error(path, f"video {vid} annotation {i}", f"step id {step} ({seg.label!r}) is not in "
                                                                       "the class list")
            column[seg.class_idx] = col_of[step]
    for vid, video in evaluated.items():
        if video.duration_sec * fps > MAX_FRAMES:
            raise input_error(path, f"video {vid}", f"duration {video.duration_sec} s at {fps} fps is more than "
                                                    f"{MAX_FRAMES} frames: check the duration and --fps")
    labels = {vid: coin_frame_labels(video, fps, column) for vid, video in evaluated.items()}
    return FrameLabels(labels, classes, frozenset(ann.videos))


def label_arrays(path: Path, key: str, log: QuirkLog | None = None) -> tuple[dict[str, object], list[str] | None]:
    """{video: raw array} and optional class names from an `.npz` or from a json `{key: {...}, "classes"?}`."""
    if path.suffix == ".npz":
        arrays = load_npz(path)
        names = arrays.pop(CLASSES_KEY, None)
        return arrays, None if names is None else class_names(names, path, CLASSES_KEY)
    data = read_json(path, log)
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise input_error(path, "", f"expected an .npz or a json object with a '{key}' object")
    extra = sorted(set(data) - {key, "classes"})
    if extra and log is not None:
        log.add("pred.extra_keys", path, "", f"top-level keys {extra} ignored")
    names = data.get("classes")
    return data[key], None if names is None else class_names(names, path, "classes")


def read_segmentation_ground_truth(path: str | Path, *, fps: float | None = None, split: str | None = None,
                                   classes: list[str] | None = None, log: QuirkLog | None = None) -> FrameLabels:
    """Reads COIN json ground truth (sampled at `fps`) or per-frame label arrays (see the module docstring)."""
    path, log = Path(path), log if log is not None else QuirkLog()
    if path.suffix != ".npz" and '"database"' in read_head(path, 1 << 16):
        return _read_coin(path, fps, split, classes, log)
    raw, names = label_arrays(path, "labels")
    labels = {}
    for vid, values in raw.items():
        if isinstance(values, list) and not all(type(v) is int for v in values):
            raise input_error(path, f"video {vid!r}", "labels must be a list of integer class indices")
        arr = np.asarray(values)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise input_error(path, f"video {vid!r}", "labels must be a 1-D list of integer class indices")
        labels[vid] = arr.astype(int)
    return FrameLabels(labels, classes if classes is not None else names, frozenset(labels))
