"""QVHighlights reader (Lei et al., NeurIPS 2021; moment_detr `data/highlight_*.jsonl`), UnLoc §4.

One JSON object a line: `qid`, `query`, `duration` (the clip length, 150 s for most), `vid`
(`{youtube_id}_{start}_{end}`), `relevant_windows` (seconds on a 2 s grid, possibly several), `relevant_clip_ids`
and `saliency_scores` (3 annotators, 0-4, one triple per relevant 2 s clip). The test release has no ground truth:
its queries come back with no windows and no saliency. The query id is the `qid`, as the official evaluation uses it.
The split is read from the file name (`highlight_{train,val,test}_release.jsonl`, `highlight_test_with_gt.jsonl`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import load_json_text, read_lines
from unloc.data.formats.quirks import to_duration
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "qvhighlights"
CLIP_SEC = 2.0  # saliency clip length: clip i covers [2i, 2i + 2) s
_REQUIRED = ("qid", "query", "duration", "vid")
NUM_ANNOTATORS, MAX_SALIENCY = 3, 4  # saliency: one 0-4 score per annotator
_SPLIT_RE = re.compile(r"highlight_([a-z]+)_(?:release|with_gt)")


def split_from_filename(path: Path) -> str | None:
    """"train" / "val" / "test" from an official file name, else None."""
    match = _SPLIT_RE.match(Path(path).stem)
    return match.group(1) if match else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _saliency(row: dict, duration_sec: float, b: AnnotationBuilder, where: str) -> dict:
    """Validate `relevant_clip_ids` and `saliency_scores` and return them as tuples (empty when absent)."""
    clip_idx = row.get("relevant_clip_ids", [])
    scores = row.get("saliency_scores", [])
    if not isinstance(clip_idx, list) or not isinstance(scores, list) or len(clip_idx) != len(scores):
        b.fail(where, "relevant_clip_ids and saliency_scores must be lists of the same length")
    num_clips = math.ceil(duration_sec / CLIP_SEC)
    if any(not _is_int(i) or not 0 <= i < num_clips for i in clip_idx):
        b.fail(where, f"relevant_clip_ids must be integers in [0, {num_clips}), got {clip_idx}")
    if any(not isinstance(s, list) or len(s) != NUM_ANNOTATORS or not all(_is_int(v) and 0 <= v <= MAX_SALIENCY
                                                                            for v in s) for s in scores):
        b.fail(where, f"saliency_scores must be lists of {NUM_ANNOTATORS} integers in [0, {MAX_SALIENCY}]")
    return {"saliency_clip_idx": tuple(clip_idx), "saliency_scores": tuple(tuple(s) for s in scores)}


def read_qvhighlights(path: Path, *, strict: bool = False, split: str | None = None,
                      split_name: str | None = None, as_given: bool = False) -> AnnotationSet:
    """Read a QVHighlights jsonl file.

    Args:
        path: `highlight_*.jsonl`.
        strict: raise on every quirk instead of applying its policy.
        as_given: keep every window as given (evaluation); quirks are still counted.
        split: keep only this split (the file holds one; another name gives an empty set).
        split_name: the file's split when its name does not tell (default: from the file name).

    Returns:
        An `AnnotationSet` with one `Query` per line and one caption `Segment` per relevant window.
    """
    path = Path(path)
    file_split = split_name or split_from_filename(path)
    b = AnnotationBuilder(FORMAT, path, strict=strict, split=split, as_given=as_given)
    if not b.wants(file_split):
        return b.build()
    for line_no, line in read_lines(path):
        where = f"line {line_no}"
        row = load_json_text(line, path, line_no=line_no)
        if not isinstance(row, dict) or any(k not in row for k in _REQUIRED):
            b.fail(where, f"a QVHighlights record needs the fields {_REQUIRED}")
        qid = row["qid"]
        if not _is_int(qid):
            b.fail(where, f"qid must be an integer, got {qid!r}")
        where = f"line {line_no} (qid {qid})"
        duration_sec = to_duration(row["duration"], b.quirks, where)
        video_id = row["vid"]
        if not isinstance(video_id, str) or not video_id:
            b.fail(where, f"vid must be a non-empty string, got {video_id!r}")
        b.add_video(VideoRecord(video_id, duration_sec, file_split), where, repeat_ok=True)
        windows = row.get("relevant_windows", [])
        if not isinstance(windows, list):
            b.fail(where, f"relevant_windows must be a list, got {windows!r}")
        b.add_query(qid, video_id, row["query"], windows, where, **_saliency(row, duration_sec, b, where))
    return b.build()
