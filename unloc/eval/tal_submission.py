"""ActivityNet-1.3 submissions `{"version", "results": {id: [{"label", "score", "segment": [s, e]}]}, "external_data"}`,
read as the official `eval_detection.py` reads them.

Records are checked in one vectorized pass; only when that fails does a slow pass walk them, to count what the official
script tolerates (booleans as numbers, segment bounds written as text, text scores, extra keys or values) and to name
the first record it would fail on. Segments reversed, of zero length or before 0 s are computed as given and counted;
so are predictions for blocked videos (dropped), for videos outside the ground truth (false positives), for labels
without ground truth in the subset (dropped: the official script crashes on them, they cannot enter any AP), empty
lists, ground-truth videos without predictions, and a missing `version` / `external_data`. Text scores are ranked as
text within a class, as the official script does (pandas sorts an object column with Python's `<`). A label outside the
class list, NaN or infinite numbers, and text and number scores mixed in one class are errors. Paper §4.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import itemgetter

import numpy as np

from unloc.data.formats.quirks import finite_number, input_error
from unloc.eval.quirks import QuirkLog
from unloc.eval.tal_inputs import DetectionGroundTruth, Detections

RECORD_KEYS = frozenset({"label", "score", "segment"})
TOP_KEYS = frozenset({"version", "results", "external_data"})
_LABEL, _SCORE, _SEGMENT = itemgetter("label"), itemgetter("score"), itemgetter("segment")


def _bound(value: object, source: str, rec: str, what: str, log: QuirkLog) -> float:
    """A segment bound as the official `float(...)` reads it: numbers, booleans and numeric text."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise input_error(source, rec, f"{what} {value!r} is not a number (the official float() fails)") from None
        log.add("pred.number_as_string", source, rec, f"{what} {value!r} read as {number}, as float() does")
        return finite_number(number, source, rec, what)
    return log.number(value, source, rec, what)


def _slow_records(kept: list[tuple[str, list]], source: str, log: QuirkLog):
    """Walk every record: count the tolerated quirks, raise on the first the official script fails on."""
    labels, scores, text, segs = [], [], [], []
    for vid, items in kept:
        for i, item in enumerate(items):
            rec = f"results[{vid!r}][{i}]"
            if not isinstance(item, dict) or not RECORD_KEYS <= set(item):
                raise input_error(source, rec, f"needs a 'label', a 'score' and a 'segment', got {item!r}")
            if set(item) - RECORD_KEYS:
                log.add("pred.extra_keys", source, rec, f"keys {sorted(set(item) - RECORD_KEYS)} ignored")
            if not isinstance(item["label"], str):
                raise input_error(source, rec, f"label must be a string, got {item['label']!r}")
            score, segment = item["score"], item["segment"]
            if isinstance(score, str):
                log.add("pred.score_as_string", source, rec, f"score {score!r} is text: ranked as text in its class")
                scores.append(np.nan)
            elif isinstance(score, bool):
                log.add("pred.bool_as_number", source, rec, f"score is {score}; read as {int(score)}")
                scores.append(float(score))
            else:
                scores.append(finite_number(score, source, rec, "score"))
            text.append(score if isinstance(score, str) else None)
            if not isinstance(segment, list) or len(segment) < 2:
                raise input_error(source, rec, f"segment must be [start, end], got {segment!r}")
            if len(segment) > 2:
                log.add("pred.extra_values", source, rec, f"segment {segment!r}: values after the end ignored")
            segs.append([_bound(v, source, rec, f"segment {name}", log) for v, name in zip(segment, ("start", "end"))])
            labels.append(item["label"])
    return labels, np.asarray(scores, dtype=float), text, np.asarray(segs, dtype=float).reshape(-1, 2)


def _flat_records(kept: list[tuple[str, list]], source: str, log: QuirkLog):
    """(labels, scores (n,), text scores (list of str or None, or None when there are none), segments (n, 2))."""
    flat = list(chain.from_iterable(items for _, items in kept))
    n = len(flat)
    if n == 0:
        return [], np.zeros(0), None, np.zeros((0, 2))
    try:
        # one C-level pass per field; building a tuple per record instead is several times slower at 10^5 records
        labels, raw_scores, raw_segs = list(map(_LABEL, flat)), list(map(_SCORE, flat)), list(map(_SEGMENT, flat))
        # a segment of 2 items whose items are numbers is a list: JSON has no other container of numbers
        ok = (set(map(len, flat)) <= {3} and set(map(type, labels)) <= {str}
              and set(map(type, raw_scores)) <= {int, float} and set(map(len, raw_segs)) <= {2}
              and set(map(type, chain.from_iterable(raw_segs))) <= {int, float})
    except (KeyError, TypeError):
        ok = False
    if ok:
        scores = np.fromiter(raw_scores, dtype=float, count=n)
        segs = np.fromiter(chain.from_iterable(raw_segs), dtype=float, count=2 * n).reshape(n, 2)
        ok = bool(np.isfinite(scores).all() and np.isfinite(segs).all())
    if ok:
        return labels, scores, None, segs
    labels, scores, text, segs = _slow_records(kept, source, log)
    return labels, scores, (text if any(t is not None for t in text) else None), segs


def _rank_text_scores(scores: np.ndarray, text: list, class_idx: np.ndarray, names) -> None:
    """Replace the text scores of each class by their rank as text (in place); a class mixing text and numbers is
    an error, as in the official script (Python cannot order a str and a float)."""
    is_text = np.array([t is not None for t in text])
    for c in np.unique(class_idx[is_text & (class_idx >= 0)]):
        members = np.flatnonzero(class_idx == c)
        if not is_text[members].all():
            k = int(members[np.argmax(is_text[members])])
            raise input_error(*names(k), "text and number scores in one class: the official script cannot rank "
                                         "them (TypeError)")
        order = {s: r for r, s in enumerate(sorted({text[k] for k in members}))}
        scores[members] = [order[text[k]] for k in members]


def _count_segment_quirks(segs: np.ndarray, source: str, names, log: QuirkLog) -> None:
    for kind, bad, what in (("pred.reversed_window", segs[:, 1] < segs[:, 0], "has end < start"),
                            ("pred.zero_length_window", segs[:, 1] == segs[:, 0], "has zero length"),
                            ("pred.negative_window", np.minimum(segs[:, 0], segs[:, 1]) < 0, "starts before 0 s")):
        idx = np.flatnonzero(bad)
        log.add_each(kind, source, [(names(k)[1], f"segment {segs[k].tolist()} {what}; computed as given")
                                         for k in idx[:3]], len(idx))


def read_anet_predictions(data: object, gt: DetectionGroundTruth, blocked: set[str], source: str,
                          log: QuirkLog) -> Detections:
    """Parses a submission against `gt` (see the module docstring).

    Raises:
        EvalInputError: a record the official script fails on, a non-finite number, or a label outside the class list.
    """
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise input_error(source, "", "expected an ActivityNet submission json with a 'results' object")
    absent = [k for k in ("version", "external_data") if k not in data]
    if absent:
        log.add("pred.missing_submission_fields", source, "", f"no {absent} (the official script raises IOError)")
    if set(data) - TOP_KEYS:
        log.add("pred.extra_keys", source, "", f"top-level keys {sorted(set(data) - TOP_KEYS)} ignored")
    kept, extra_videos = [], {}
    for vid, items in data["results"].items():
        if not isinstance(items, list):
            raise input_error(source, f"results[{vid!r}]", "must be a list of {label, score, segment}")
        if not items:
            log.add("pred.empty_window_list", source, f"results[{vid!r}]", "no detection")
        if vid in blocked:
            log.add("pred.blocked_video", source, f"results[{vid!r}]", f"{len(items)} detections dropped", len(items))
            continue
        if vid not in gt.videos:
            extra_videos[vid] = len(gt.videos) + len(extra_videos)
            hint = next((f"; the ground truth has {v!r}" for v in (vid[2:], "v_" + vid) if v in gt.videos), "")
            log.add("pred.unknown_id", source, f"results[{vid!r}]", f"{len(items)} false positives, as "
                                                                    f"official{hint}", len(items))
        kept.append((vid, items))
    missing = [v for v in gt.videos if v not in data["results"]]
    log.add_each("pred.missing_id", source, [("", f"video {v!r} has no detection") for v in missing[:3]], len(missing))
    labels, scores, text, segs = _flat_records(kept, source, log)
    counts = np.array([len(items) for _, items in kept], dtype=int)
    ends = np.cumsum(counts)

    def names(k: int) -> tuple[str, str]:
        at = int(np.searchsorted(ends, k, side="right"))
        return source, f"results[{kept[at][0]!r}][{k - (ends[at] - counts[at])}]"

    _count_segment_quirks(segs, source, names, log)
    video_idx = np.repeat([gt.videos.get(vid, extra_videos.get(vid)) for vid, _ in kept], counts).astype(int)
    class_of = {name: i for i, name in enumerate(gt.classes)}
    class_idx = np.fromiter(map(class_of.get, labels, repeat(-1)), dtype=int, count=len(labels))
    unknown = np.flatnonzero(class_idx < 0)
    if len(unknown):
        outside = [k for k in unknown if labels[k] not in gt.taxonomy]
        if outside:
            raise input_error(*names(outside[0]), f"label {labels[outside[0]]!r} is not in the ground-truth taxonomy")
        log.add("pred.label_without_ground_truth", source, names(unknown[0])[1],
                f"label {labels[unknown[0]]!r} has no ground truth in the subset: dropped", len(unknown))
    if text is not None:
        _rank_text_scores(scores, text, class_idx, names)
    keep = class_idx >= 0
    return Detections(video_idx[keep], class_idx[keep], segs[keep], scores[keep])
