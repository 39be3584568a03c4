"""Moment-retrieval evaluation inputs: the three official ground-truth formats and the QVHighlights submission format.

Ground truth is read raw, as the benchmark files give it (no clipping, no reordering, no quirk fixing), because the
official numbers are computed on exactly that. Query ids: QVHighlights gives `qid`; Charades-STA uses the 0-based line
number in the file; ActivityNet Captions uses the 0-based position when walking the file's videos in file order and each
video's sentences in order. Predictions are JSON lines `{"qid", "vid", "pred_relevant_windows": [[s, e, score], ...],
"pred_saliency_scores": [...]}`; `vid`, when given, must be the ground truth's video of that query (paper §4, datasets
QVHighlights / Charades-STA / ActivityNet Captions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.eval.inputs import (
    WarningLog,
    finite_array,
    finite_number,
    input_error,
    iter_jsonl,
    read_json,
    segment_sec,
)

MR_FORMATS = ("qvhighlights", "charades_sta", "anet_captions")
CLIP_SEC = 2  # QVHighlights saliency is annotated per 2-second clip


@dataclass(frozen=True)
class MomentQuery:
    """One ground-truth query.

    Attributes:
        qid: query id (int).
        vid: video id.
        windows_sec: (m, 2) ground-truth [start, end] windows, as given.
        saliency: (c, 3) QVHighlights clip scores 0..4 of three annotators over the whole clip
            (c = int(duration / 2), zero outside `relevant_clip_ids`), or None.
        where: the record in its file ("line 12", "video v_x sentence 2"), for messages.
    """

    qid: int
    vid: str
    windows_sec: np.ndarray
    saliency: np.ndarray | None
    where: str


@dataclass(frozen=True)
class MomentPrediction:
    """One submission line: windows in file order (k, 3) [start, end, score], optional saliency (l,), its line."""

    qid: int
    vid: str | None
    windows: np.ndarray
    saliency: np.ndarray | None
    where: str


def detect_mr_format(path: str | Path) -> str:
    """Guesses the ground-truth format of `path` from its content (or its `.txt` suffix for Charades-STA)."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "")
    if path.suffix == ".txt" or "##" in first:
        return "charades_sta"
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and "qid" in obj:
        return "qvhighlights"
    if first.lstrip().startswith("{"):
        return "anet_captions"
    raise input_error(path, "", f"cannot tell the ground-truth format; pass one of {MR_FORMATS}")


def _windows(value: object, path: Path, where: str, log: WarningLog) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise input_error(path, where, f"ground-truth windows must be a non-empty list, got {value!r}")
    pairs = [segment_sec(w, path, where, "ground-truth window", ordered=False) for w in value]
    reversed_n = sum(end < start for start, end in pairs)
    log.add("mr.gt_window_end_before_start", f"{path}: {where}: {value!r} (kept as given; it can never be hit)",
            reversed_n)
    return np.asarray(pairs, dtype=float).reshape(-1, 2)


def _qvh_saliency(row: dict, path: Path, where: str) -> np.ndarray | None:
    if "saliency_scores" not in row or "relevant_clip_ids" not in row:
        return None
    duration = finite_number(row.get("duration"), path, where, "duration")
    ids, scores = row["relevant_clip_ids"], row["saliency_scores"]
    full = np.zeros((int(duration / CLIP_SEC), 3))  # (c, 3)
    try:
        ids_arr = np.asarray(ids, dtype=int).reshape(-1)
        scores_arr = np.asarray(scores, dtype=float).reshape(len(ids_arr), 3)
    except (TypeError, ValueError):
        raise input_error(path, where, "relevant_clip_ids / saliency_scores must be N ids and N x 3 scores") from None
    if len(ids_arr) and (ids_arr.min() < 0 or ids_arr.max() >= len(full)):
        raise input_error(path, where, f"relevant_clip_ids outside the {len(full)} clips of a {duration} s video")
    full[ids_arr] = scores_arr
    return full


def _read_qvhighlights(path: Path, log: WarningLog) -> list[MomentQuery]:
    queries = []
    for line_no, row in iter_jsonl(path):
        where = f"line {line_no}"
        if "qid" not in row or "vid" not in row:
            raise input_error(path, where, "a QVHighlights row needs 'qid' and 'vid'")
        if "relevant_windows" not in row:
            raise input_error(path, where, "no 'relevant_windows': this file has no ground truth (test release?)")
        windows = _windows(row["relevant_windows"], path, where, log)
        queries.append(MomentQuery(row["qid"], str(row["vid"]), windows, _qvh_saliency(row, path, where), where))
    return queries


def _read_charades(path: Path, log: WarningLog) -> list[MomentQuery]:
    queries = []
    with open(path, encoding="utf-8") as handle:
        for line_idx, line in enumerate(handle):
            if not line.strip():
                continue
            where = f"line {line_idx + 1}"
            head = line.split("##", 1)[0].split()
            if "##" not in line or len(head) != 3:
                raise input_error(path, where, "expected 'VIDEO_ID start end##sentence'")
            try:
                pair = [float(head[1]), float(head[2])]
            except ValueError:
                raise input_error(path, where, f"start/end must be numbers, got {head[1:]!r}") from None
            windows = _windows([pair], path, where, log)
            queries.append(MomentQuery(line_idx, head[0], windows, None, where))
    return queries


def _read_anet_captions(path: Path, log: WarningLog) -> list[MomentQuery]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise input_error(path, "", "expected {video_id: {duration, timestamps, sentences}}")
    queries = []
    for vid, video in data.items():
        where = f"video {vid}"
        if not isinstance(video, dict) or not isinstance(video.get("timestamps"), list):
            raise input_error(path, where, "needs a 'timestamps' list")
        stamps = video["timestamps"]
        if "sentences" in video and len(video["sentences"]) != len(stamps):
            raise input_error(path, where, f"{len(stamps)} timestamps but {len(video['sentences'])} sentences")
        for i, stamp in enumerate(stamps):
            record = f"{where} sentence {i}"
            queries.append(MomentQuery(len(queries), str(vid), _windows([stamp], path, record, log), None, record))
    return queries


def read_mr_ground_truth(path: str | Path, fmt: str | None = None, log: WarningLog | None = None) -> list[MomentQuery]:
    """Reads moment-retrieval ground truth in one of `MR_FORMATS` (detected when `fmt` is None).

    Raises:
        EvalInputError: malformed records or duplicate query ids, naming file and line/record.
    """
    path, log = Path(path), log if log is not None else WarningLog()
    fmt = fmt or detect_mr_format(path)
    readers = {"qvhighlights": _read_qvhighlights, "charades_sta": _read_charades, "anet_captions": _read_anet_captions}
    if fmt not in readers:
        raise input_error(path, "", f"unknown ground-truth format {fmt!r}; use one of {MR_FORMATS}")
    queries = readers[fmt](path, log)
    seen: dict[object, str] = {}
    for query in queries:
        if query.qid in seen:
            raise input_error(path, query.where, f"duplicate qid {query.qid!r} (first at {seen[query.qid]})")
        seen[query.qid] = query.where
    return queries


def _prediction(row: dict, path: Path, where: str) -> MomentPrediction:
    if "qid" not in row or "pred_relevant_windows" not in row:
        raise input_error(path, where, "a prediction needs 'qid' and 'pred_relevant_windows'")
    raw = row["pred_relevant_windows"]
    if not isinstance(raw, list):
        raise input_error(path, where, "'pred_relevant_windows' must be a list of [start, end, score]")
    for i, window in enumerate(raw):
        if not isinstance(window, list) or len(window) != 3:
            raise input_error(path, where, f"window {i} must be [start, end, score], got {window!r}")
    windows = finite_array(raw, path, where, "window").reshape(-1, 3)  # (k, 3) [start, end, score]
    reversed_idx = np.flatnonzero(windows[:, 1] < windows[:, 0])
    if len(reversed_idx):
        raise input_error(path, where, f"window {reversed_idx[0]} has end < start: {raw[reversed_idx[0]]!r}")
    saliency = None
    if "pred_saliency_scores" in row:
        values = row["pred_saliency_scores"]
        saliency = finite_array(values, path, where, "saliency score") if isinstance(values, list) else None
        if saliency is None or saliency.ndim != 1:
            raise input_error(path, where, "'pred_saliency_scores' must be a list of numbers")
    vid = row.get("vid")
    return MomentPrediction(row["qid"], None if vid is None else str(vid), windows, saliency, where)


def read_mr_predictions(path: str | Path, queries: list[MomentQuery]) -> list[MomentPrediction]:
    """Reads a QVHighlights-style submission and checks it against the ground truth.

    Raises:
        EvalInputError: malformed line, NaN/infinite number, window with end < start, duplicate qid, a qid that is
            not in the ground truth, a `vid` that differs from the ground truth's, or saliency scores on some lines
            but not others, naming the file and line.
    """
    path = Path(path)
    by_qid = {q.qid: q for q in queries}
    seen: dict[object, int] = {}
    predictions = []
    for line_no, row in iter_jsonl(path):
        where = f"line {line_no}"
        pred = _prediction(row, path, where)
        if pred.qid in seen:
            raise input_error(path, where, f"duplicate qid {pred.qid!r} (first at line {seen[pred.qid]})")
        seen[pred.qid] = line_no
        query = by_qid.get(pred.qid)
        if query is None:
            raise input_error(path, where, f"qid {pred.qid!r} ({type(pred.qid).__name__}) is not in the ground truth")
        if pred.vid is not None and pred.vid != query.vid:
            raise input_error(path, where, f"vid {pred.vid!r}, but qid {pred.qid!r} belongs to {query.vid!r}")
        predictions.append(pred)
    lacking = [p for p in predictions if p.saliency is None]
    if lacking and len(lacking) < len(predictions):
        raise input_error(path, lacking[0].where, "no 'pred_saliency_scores' while other lines have them")
    return predictions
