"""Temporal-localization evaluation inputs: ActivityNet-1.3 ground truth through the official-format reader, read as
given, and blocked-video lists.

The ground truth is read by `unloc.data.formats.activitynet13` with `as_given=True` (the official layout, or BSN's):
every segment exactly as the file gives it, the file's quirks counted (`gt.*`). The evaluated classes are the labels of
the chosen subset (without blocked videos) in order of first appearance, the official `activity_index`; the reader's
class list (the taxonomy's leaves, else the labels met) is what a predicted label must belong to. Submissions are read
by `unloc.eval.tal_submission`. Paper §4, ActivityNet-1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.data.formats.activitynet13 import read_activitynet13
from unloc.data.formats.fileio import load_json_text, read_text
from unloc.data.formats.quirks import input_error
from unloc.eval.quirks import QuirkLog


@dataclass(frozen=True)
class Detections:
    """Flat arrays of segments: (n,) `video_idx`, (n,) `class_idx`, (n, 2) `segments_sec`, (n,) `scores` (or None)."""

    video_idx: np.ndarray
    class_idx: np.ndarray
    segments_sec: np.ndarray
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class DetectionGroundTruth:
    """Ground truth of one subset: segments, class names (index order), video ids -> index, all known labels."""

    segments: Detections
    classes: list[str]
    videos: dict[str, int]
    taxonomy: set[str]


def read_blocked(path: str | Path) -> set[str]:
    """Video ids to leave out: a JSON list of strings, or a text file with one id per line."""
    text = read_text(path).strip()
    if text.startswith("["):
        ids = load_json_text(text, path)
        if not isinstance(ids, list) or not all(isinstance(v, str) for v in ids):
            raise input_error(path, "", "a blocked list must be a JSON list of video id strings")
        return set(ids)
    return {line.strip() for line in text.splitlines() if line.strip()}


def read_anet_ground_truth(source: str | Path, split: str, blocked: set[str], log: QuirkLog,
                           data: object = None) -> DetectionGroundTruth:
    """Reads ActivityNet-1.3 ground truth of one subset, as given (see the module docstring).

    Args:
        source: the ground-truth file (read unless `data` is given; named in messages).
        split: the evaluated subset ("validation"; the reader also accepts "val").
        blocked: video ids left out.
        log: collects the file's quirks as `gt.*`.
        data: the parsed JSON when already at hand.

    Raises:
        EvalInputError: malformed records (naming the file and video), or no segment in the subset.
    """
    ann = read_activitynet13(Path(source), split=split, as_given=True, data=data)
    log.add_report(ann.quirks)
    classes: dict[str, int] = {}
    videos: dict[str, int] = {}
    rows = []
    for vid, video in ann.videos.items():
        if vid in blocked:
            continue
        videos[vid] = len(videos)
        for seg in video.segments:
            rows.append((videos[vid], classes.setdefault(seg.label, len(classes)), seg.start_sec, seg.end_sec))
    if not classes:
        raise input_error(source, "", f"no ground-truth segments in subset {split!r}")
    arr = np.asarray(rows, dtype=float).reshape(-1, 4)
    segments = Detections(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2:4])
    return DetectionGroundTruth(segments, list(classes), videos, set(ann.classes))
