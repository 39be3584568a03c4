"""Moment-retrieval evaluation inputs: ground truth through the official-format readers, read as given.

Ground truth is read by `unloc.data.formats` (QVHighlights jsonl, Charades-STA txt, ActivityNet Captions json) with
`as_given=True`: every window exactly as the file gives it (no clipping, no swap, nothing dropped), because the official
numbers are computed on exactly that; the file's quirks are counted (`gt.*`). Query ids follow the readers: QVHighlights
`qid`, Charades-STA the 0-based line number, ActivityNet Captions the 0-based position over videos in file order and
each video's sentences in order. Predictions are read by `unloc.eval.mr_submission` (paper §4, datasets QVHighlights /
Charades-STA / ActivityNet Captions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.data.formats import AnnotationError, detect_format, read_annotations
from unloc.data.formats.quirks import input_error
from unloc.data.formats.qvhighlights import CLIP_SEC
from unloc.eval.quirks import QuirkLog

MR_FORMATS = ("qvhighlights", "charades_sta", "activitynet_captions")
FORMAT_ALIASES = {"anet_captions": "activitynet_captions"}
MAX_CLIPS = 1_000_000  # saliency clips per query (QVHighlights clips are 150 s: 75 clips)


@dataclass(frozen=True)
class MomentQuery:
    """One ground-truth query.

    Attributes:
        qid: query id (int).
        vid: video id.
        windows_sec: (m, 2) ground-truth [start, end] windows, as given.
        saliency: (c, 3) QVHighlights clip scores 0..4 of three annotators over the whole clip
            (c = int(duration / 2), zero outside `relevant_clip_ids`), or None.
        where: the record, for messages ("qid 12").
    """

    qid: int
    vid: str
    windows_sec: np.ndarray
    saliency: np.ndarray | None
    where: str


@dataclass(frozen=True)
class MomentPrediction:
    """The prediction of one query: its last submission line's windows in file order (k, 3) [start, end, score]
    (None when the submission has no MR part) and saliency (l,) (None without HL part); `ap_windows`: when the qid
    is on several lines, the windows QVHighlights' MR-mAP pools (the first 10 of every line), else None."""

    qid: int
    vid: str | None
    windows: np.ndarray | None
    saliency: np.ndarray | None
    where: str
    ap_windows: np.ndarray | None = None


def mr_format_name(fmt: str | None) -> str | None:
    """The reader's name of an MR format (accepts the old spelling `anet_captions`)."""
    return FORMAT_ALIASES.get(fmt, fmt) if fmt else None


def detect_mr_format(path: str | Path) -> str:
    """The ground-truth format of `path` (`unloc.data.formats.detect_format`), which must be a moment-retrieval one."""
    try:
        fmt = detect_format(Path(path))
    except AnnotationError as err:
        raise AnnotationError(f"{err}; pass --format (one of {MR_FORMATS})") from None
    if fmt not in MR_FORMATS:
        raise input_error(path, "", f"a {fmt} file is not moment-retrieval ground truth (one of {MR_FORMATS})")
    return fmt


def _saliency(query, path: Path) -> np.ndarray | None:
    """(c, 3) scores over the clip's c = int(duration / 2) clips, as the official `mk_gt_scores`; None without."""
    if not query.saliency_clip_idx:
        return None
    if query.duration_sec > MAX_CLIPS * CLIP_SEC:
        raise input_error(path, f"qid {query.query_id}", f"duration {query.duration_sec} s is more than {MAX_CLIPS} "
                                                          "2-s clips: check the duration")
    full = np.zeros((int(query.duration_sec / CLIP_SEC), 3))  # (c, 3)
    ids = np.asarray(query.saliency_clip_idx, dtype=int)
    if ids.max() >= len(full):  # the official script fails here with an IndexError
        raise input_error(path, f"qid {query.query_id}", f"relevant_clip_ids reach clip {ids.max()}, but a "
                                                          f"{query.duration_sec} s video has {len(full)} 2-s clips")
    full[ids] = np.asarray(query.saliency_scores, dtype=float)
    return full


def read_mr_ground_truth(path: str | Path, fmt: str | None = None, log: QuirkLog | None = None) -> list[MomentQuery]:
    """Reads moment-retrieval ground truth in one of `MR_FORMATS` (detected when `fmt` is None), as given.

    Raises:
        EvalInputError: malformed records, duplicate query ids, or a query without ground-truth windows (a test
            release), naming the file and line or query.
    """
    path, log = Path(path), log if log is not None else QuirkLog()
    fmt = mr_format_name(fmt) or detect_mr_format(path)
    if fmt not in MR_FORMATS:
        raise input_error(path, "", f"unknown ground-truth format {fmt!r}; use one of {MR_FORMATS}")
    ann = read_annotations(path, fmt, as_given=True)
    log.add_report(ann.quirks)
    queries = []
    for query in ann.queries:
        where = f"qid {query.query_id}"
        if not query.windows:
            raise input_error(path, f"{where} (video {query.video_id})",
                              "no ground-truth window: this file has no ground truth (a test release?)")
        windows = np.asarray(query.windows, dtype=float).reshape(-1, 2)
        saliency = _saliency(query, path) if fmt == "qvhighlights" else None
        queries.append(MomentQuery(query.query_id, query.video_id, windows, saliency, where))
    if not queries:
        raise input_error(path, "", "no queries to evaluate")
    return queries
