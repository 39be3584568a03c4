"""Temporal-localization evaluation inputs: ActivityNet-1.3 ground truth, submissions and blocked-video lists.

Ground truth `{"database": {id: {"subset", "annotations": [{"segment", "label"}]}}, "taxonomy"?: [{"nodeName"}]}` is
read as given; the evaluated classes are the labels of the chosen subset in order of first appearance (the official
`activity_index`). A submission `{"results": {id: [{"label", "score", "segment": [s, e]}]}}` is checked record by record
in one vectorized pass; on a bad record a slow pass names it (`results['id'][i]`). Paper §4, ActivityNet-1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np

from unloc.eval.inputs import WarningLog, finite_number, input_error, read_json, segment_sec

_LABEL, _SCORE, _SEGMENT = itemgetter("label"), itemgetter("score"), itemgetter("segment")


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
    """Video ids to leave out: a JSON list, or a text file with one id per line."""
    text = Path(path).read_text(encoding="utf-8").strip()
    if text.startswith("["):
        return {str(v) for v in read_json(path)}
    return {line.strip() for line in text.splitlines() if line.strip()}


def read_anet_ground_truth(data: object, split: str, blocked: set[str], source: str,
                           log: WarningLog) -> DetectionGroundTruth:
    """Parses ActivityNet ground truth (see the module docstring); reversed segments are kept and counted."""
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise input_error(source, "", "expected an ActivityNet ground-truth json with a 'database' object")
    taxonomy = {str(node.get("nodeName")) for node in data.get("taxonomy", []) if isinstance(node, dict)}
    classes: dict[str, int] = {}
    videos: dict[str, int] = {}
    rows = []
    for vid, video in data["database"].items():
        where = f"database[{vid!r}]"
        if not isinstance(video, dict) or not isinstance(video.get("annotations", []), list):
            raise input_error(source, where, "needs 'subset' and an 'annotations' list")
        evaluated = video.get("subset") == split and vid not in blocked
        if evaluated:
            videos.setdefault(vid, len(videos))
        for i, ann in enumerate(video.get("annotations", [])):
            if not isinstance(ann, dict) or not isinstance(ann.get("label"), str):
                raise input_error(source, f"{where}.annotations[{i}]", "needs a string 'label' and a 'segment'")
            taxonomy.add(ann["label"])
            if evaluated:
                rec = f"{where}.annotations[{i}]"
                start, end = segment_sec(ann.get("segment"), source, rec, "segment", ordered=False)
                log.add("tal.gt_segment_end_before_start", f"{rec} (kept as given)", int(end < start))
                rows.append((videos[vid], classes.setdefault(ann["label"], len(classes)), start, end))
    arr = np.asarray(rows, dtype=float).reshape(-1, 4)
    segments = Detections(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2:4])
    return DetectionGroundTruth(segments, list(classes), videos, taxonomy)


def _raise_first_bad_record(kept: list[tuple[str, list]], source: str) -> None:
    """Slow pass over the records, only to name the first bad one."""
    for vid, items in kept:
        for i, item in enumerate(items):
            rec = f"results[{vid!r}][{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("label"), str):
                raise input_error(source, rec, f"needs a string 'label', a 'score' and a 'segment', got {item!r}")
            finite_number(item.get("score"), source, rec, "score")
            segment_sec(item.get("segment"), source, rec, "segment", ordered=True)
    raise input_error(source, "results", "malformed predictions")


def _flat_records(kept: list[tuple[str, list]], source: str) -> tuple[list, np.ndarray, np.ndarray]:
    """(labels, scores (n,), segments (n, 2)) of all kept records, validated in one pass."""
    flat = list(chain.from_iterable(items for _, items in kept))
    n = len(flat)
    if n == 0:
        return [], np.zeros(0), np.zeros((0, 2))
    try:
        # one C-level pass per field; building a tuple per record instead is several times slower at 10^5 records
        labels, raw_scores, raw_segs = list(map(_LABEL, flat)), list(map(_SCORE, flat)), list(map(_SEGMENT, flat))
        ok = (set(map(type, labels)) <= {str} and set(map(type, raw_scores)) <= {int, float}
              and set(map(type, raw_segs)) <= {list} and set(map(len, raw_segs)) <= {2}
              and set(map(type, chain.from_iterable(raw_segs))) <= {int, float})
    except (KeyError, TypeError):
        ok = False
    if ok:
        scores = np.fromiter(raw_scores, dtype=float, count=n)
        segs = np.fromiter(chain.from_iterable(raw_segs), dtype=float, count=2 * n).reshape(n, 2)
        ok = bool((np.isfinite(scores) & np.isfinite(segs).all(1) & (segs[:, 1] >= segs[:, 0])).all())
    if not ok:
        _raise_first_bad_record(kept, source)
    return labels, scores, segs


def read_anet_predictions(data: object, gt: DetectionGroundTruth, blocked: set[str], source: str,
                          log: WarningLog) -> Detections:
    """Parses a submission against `gt`.

    Predictions for blocked videos are dropped, those for videos outside the subset are kept (they are false
    positives, as in the official script), those whose label has no ground truth in the subset are dropped (the
    official script would crash); all three are counted in `log`.

    Raises:
        EvalInputError: malformed record, non-finite number, end < start, or a label outside the taxonomy.
    """
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise input_error(source, "", "expected an ActivityNet submission json with a 'results' object")
    kept, extra_videos = [], {}
    for vid, items in data["results"].items():
        if not isinstance(items, list):
            raise input_error(source, f"results[{vid!r}]", "must be a list of {label, score, segment}")
        if vid in blocked:
            log.add("tal.blocked_video_predictions_dropped", f"results[{vid!r}]", len(items))
            continue
        if vid not in gt.videos:
            extra_videos[vid] = len(gt.videos) + len(extra_videos)
            hint = next((f"; the ground truth has {v!r}" for v in (vid[2:], "v_" + vid) if v in gt.videos), "")
            log.add("tal.predictions_for_unknown_video", f"results[{vid!r}] (false positives, as official){hint}",
                    len(items))
        kept.append((vid, items))
    labels, scores, segs = _flat_records(kept, source)
    counts = np.array([len(items) for _, items in kept], dtype=int)
    video_idx = np.repeat([gt.videos.get(vid, extra_videos.get(vid)) for vid, _ in kept], counts).astype(int)
    class_of = {name: i for i, name in enumerate(gt.classes)}
    class_idx = np.fromiter(map(class_of.get, labels, repeat(-1)), dtype=int, count=len(labels))
    unknown = np.flatnonzero(class_idx < 0)
    if len(unknown):
        outside = [k for k in unknown if labels[k] not in gt.taxonomy]
        first = outside[0] if outside else unknown[0]
        at = int(np.searchsorted(np.cumsum(counts), first, side="right"))
        rec = f"results[{kept[at][0]!r}][{first - (np.cumsum(counts)[at] - counts[at])}]"
        if outside:
            raise input_error(source, rec, f"label {labels[first]!r} is not in the ground-truth taxonomy")
        log.add("tal.label_without_ground_truth_dropped", f"{rec} label {labels[first]!r}", len(unknown))
    keep = class_idx >= 0
    return Detections(video_idx[keep], class_idx[keep], segs[keep], scores[keep])
