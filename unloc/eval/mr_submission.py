"""Moment-retrieval submissions: QVHighlights-style JSON lines, read as the official `standalone_eval` reads them.

A line is `{"qid", "vid"?, "pred_relevant_windows": [[start, end, score], ...], "pred_saliency_scores"?: [...]}`.
What the official script tolerates is accepted and counted (`unloc.eval.quirks`): windows reversed, of zero length or
before 0 s (computed as given), more than 10 windows (MR-mAP reads the first 10), a qid on several lines (pooled as
official), `vid` differing from the ground truth (ignored), booleans as numbers, extra keys or values, blank lines,
saliency lists of another length. The first line decides, as in the official script, whether the file has an MR part
(`pred_relevant_windows`) and an HL part (`pred_saliency_scores`). What makes it crash is an error naming the line: a
qid that is not in the ground truth, a later line lacking a part the first line has, a window of fewer than 3 values,
text or null where a number is read; NaN and infinities too (its sorting and IoU are undefined on them).
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import numpy as np

from unloc.data.formats.quirks import input_error
from unloc.eval.inputs import iter_jsonl
from unloc.eval.matching import zero_over_zero
from unloc.eval.mr_inputs import MomentPrediction, MomentQuery
from unloc.eval.quirks import QuirkLog

ROW_KEYS = frozenset({"qid", "vid", "query", "pred_relevant_windows", "pred_saliency_scores"})
MAX_PRED_WINDOWS = 10  # windows per line that QVHighlights' MR-mAP reads
_WINDOW_VALUES = ("start", "end", "score")


def _qid(row: dict, path: Path, where: str, queries: dict[int, MomentQuery], log: QuirkLog) -> int:
    if "qid" not in row:
        raise input_error(path, where, "a prediction needs 'qid' (the official script fails without it)")
    qid = row["qid"]
    if isinstance(qid, (bool, float)) and float(qid).is_integer() and int(qid) in queries:
        log.add("pred.id_type", path, where, f"qid {qid!r} taken as {int(qid)}, as the official script's dict does")
        qid = int(qid)
    if type(qid) is not int or qid not in queries:
        raise input_error(path, where, f"qid {row['qid']!r} ({type(row['qid']).__name__}) is not in the ground truth "
                                       "(the official script asserts that the qids match)")
    return qid


def _windows(raw: object, path: Path, where: str, log: QuirkLog, qvh: bool) -> np.ndarray:
    """(k, 3) [start, end, score] of one line, validated and its quirks counted."""
    if not isinstance(raw, list):
        raise input_error(path, where, "'pred_relevant_windows' must be a list of [start, end, score]")
    plain = all(type(w) is list and len(w) == 3 for w in raw)
    plain = plain and set(map(type, chain.from_iterable(raw))) <= {int, float}
    arr = np.asarray(raw, dtype=float).reshape(-1, 3) if plain else None
    if arr is None or not np.isfinite(arr).all():
        rows = []
        for i, w in enumerate(raw):
            if not isinstance(w, list) or len(w) < 3:
                raise input_error(path, where, f"window {i} must be [start, end, score], got {w!r}")
            if len(w) > 3:
                log.add("pred.extra_values", path, where, f"window {i} {w!r}: values after the score ignored")
            rows.append([log.number(v, path, where, f"window {i} {name}") for v, name in zip(w, _WINDOW_VALUES)])
        arr = np.asarray(rows, dtype=float).reshape(-1, 3)
    for kind, bad, what in (("pred.reversed_window", arr[:, 1] < arr[:, 0], "has end < start"),
                            ("pred.zero_length_window", arr[:, 1] == arr[:, 0], "has zero length"),
                            ("pred.negative_window", np.minimum(arr[:, 0], arr[:, 1]) < 0, "starts before 0 s")):
        idx = np.flatnonzero(bad)
        log.add_each(kind, path, [(where, f"window {i} {arr[i, :2].tolist()} {what}; computed as given")
                                  for i in idx[:3]], len(idx))
    if not len(arr):
        log.add("pred.empty_window_list", path, where, "no window: the query is a miss")
    elif qvh and len(arr) > MAX_PRED_WINDOWS:
        log.add("pred.windows_beyond_read", path, where, f"{len(arr)} windows; MR-mAP reads the first "
                                                         f"{MAX_PRED_WINDOWS} in file order, R@k ranks all")
    return arr


def _saliency(raw: object, path: Path, where: str, log: QuirkLog, query: MomentQuery) -> np.ndarray:
    if not isinstance(raw, list) or not raw:
        raise input_error(path, where, "'pred_saliency_scores' must be a non-empty list of numbers (the official "
                                       "script fails on an empty one)")
    if set(map(type, raw)) <= {int, float} and np.isfinite(arr := np.asarray(raw, dtype=float)).all():
        scores = arr.reshape(-1)
    else:
        scores = np.array([log.number(v, path, where, f"saliency score {i}") for i, v in enumerate(raw)])
    if query.saliency is not None and len(scores) != len(query.saliency):
        log.add("pred.saliency_length_mismatch", path, where,
                f"{len(scores)} saliency scores for {len(query.saliency)} clips: padded with 0 or cut, as official")
    return scores


def _part(row: dict, key: str, first: dict, path: Path, where: str, log: QuirkLog) -> bool:
    """Whether the line's `key` part is read: the first line decides, as in the official script."""
    if key in first:
        if key not in row:
            raise input_error(path, where, f"no {key!r} while line 1 has them (the official script fails with a "
                                           "KeyError)")
        return True
    if key in row:
        kind = "pred.windows_ignored" if key == "pred_relevant_windows" else "pred.saliency_ignored"
        log.add(kind, path, where, f"{key!r} ignored: the first line has none, so the official script reads none")
    return False


def read_mr_predictions(path: str | Path, queries: list[MomentQuery], log: QuirkLog | None = None, *,
                        fmt: str = "qvhighlights") -> list[MomentPrediction]:
    """Reads a QVHighlights-style submission against the ground truth (see the module docstring).

    Args:
        path: JSON lines.
        queries: the ground truth.
        log: counts the input quirks (default: a fresh one).
        fmt: the ground truth's format; with another than QVHighlights (no official script reads the file) a `vid`
            other than the ground truth's is an error (the query ids are positions, so the ids are off) and the
            10-window cut of the official MR-mAP does not apply.

    Returns:
        One prediction per qid in order of first appearance; `windows` (or `saliency`) is None on every prediction
        when the file has no MR (or HL) part.

    Raises:
        EvalInputError: what the official script fails on (see the module docstring), naming the file and line.
    """
    path, log = Path(path), log if log is not None else QuirkLog()
    qvh = fmt == "qvhighlights"
    by_qid = {q.qid: q for q in queries}
    entries: dict[int, list[tuple[str, np.ndarray | None, np.ndarray | None, str | None]]] = {}
    first: dict | None = None
    for line_no, row in iter_jsonl(path, log):
        where = f"line {line_no}"
        first = row if first is None else first
        extra = sorted(set(row) - ROW_KEYS)
        if extra:
            log.add("pred.extra_keys", path, where, f"keys {extra} ignored")
        qid = _qid(row, path, where, by_qid, log)
        query, vid = by_qid[qid], row.get("vid")
        if vid is not None and vid != query.vid:
            if not qvh:
                raise input_error(path, where, f"vid {vid!r}, but qid {qid!r} belongs to {query.vid!r} (the query "
                                               f"ids of {fmt} are positions in the ground truth)")
            log.add("pred.vid_mismatch", path, where, f"vid {vid!r} but qid {qid} belongs to {query.vid!r}; "
                                                      "ignored, the qid decides")
        windows = _windows(row["pred_relevant_windows"], path, where, log, qvh) \
            if _part(row, "pred_relevant_windows", first, path, where, log) else None
        if windows is not None and len(windows):
            hits = zero_over_zero(np.zeros(len(windows)), windows[:, :2], np.zeros(len(query.windows_sec)),
                                  query.windows_sec)
            detail = "meets a ground truth with a 0/0 IoU: matched at every threshold, as official"
            log.add_each("pred.zero_length_match", path,
                         [(where, f"window {i} {windows[i, :2].tolist()} {detail}") for i in hits[:3]], len(hits))
        saliency = _saliency(row["pred_saliency_scores"], path, where, log, query) \
            if _part(row, "pred_saliency_scores", first, path, where, log) else None
        entries.setdefault(qid, []).append((where, windows, saliency, None if vid is None else str(vid)))
    if first is None:
        raise input_error(path, "", "no prediction line (the official script needs at least one)")
    predictions = []
    for qid, lines in entries.items():
        where, windows, saliency, vid = lines[-1]
        pooled = None
        if len(lines) > 1:
            log.add("pred.duplicate_id", path, lines[1][0], f"qid {qid} also on {lines[0][0]}; MR-mAP pools their "
                                                            "first 10 windows, R1, HL and R@k read the last line")
            if windows is not None:
                pooled = np.concatenate([w[:MAX_PRED_WINDOWS] for _, w, _, _ in lines])
        predictions.append(MomentPrediction(qid, vid, windows, saliency, where, pooled))
    return predictions
