"""Charades-STA reader (Gao et al., ICCV 2017; the 2D-TAN `data/Charades-STA/` release), UnLoc §4.

One query a line: `VIDEO_ID start end##sentence`, times in seconds. The lines carry no duration: it comes from the
`length` column of the Charades metadata `Charades_v1_{train,test}.csv`, found next to the txt file unless given.
The query id is the 0-based line number in the file, the convention of the Charades-STA evaluation. Many windows end
a little after `length` (the STA times were rounded up); they are clipped and counted (`past_end`), and the 4 reversed
train lines are swapped (`reversed_segment`); see `quirks.POLICIES`. The split is read from the file name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import read_csv, read_lines
from unloc.data.formats.quirks import AnnotationError, QuirkCounter, parse_float, to_duration
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "charades_sta"
METADATA_GLOB = "Charades_v1_*.csv"
_SPLIT_RE = re.compile(r"charades_sta_([a-z]+)")


def load_charades_durations(csv_paths: Iterable[Path]) -> dict[str, float]:
    """Video id -> duration in seconds from Charades metadata files (columns `id`, `length`).

    Args:
        csv_paths: one or more `Charades_v1_*.csv` files.

    Returns:
        Durations of every video listed; a video listed twice with different lengths is an error.
    """
    durations: dict[str, float] = {}
    for csv_path in csv_paths:
        quirks = QuirkCounter(Path(csv_path))
        for line_no, row in read_csv(csv_path, required=("id", "length")):
            video_id = row["id"].strip()
            length_sec = to_duration(row["length"], quirks, f"line {line_no} (video {video_id})", text=True)
            if durations.setdefault(video_id, length_sec) != length_sec:
                quirks.fail(f"line {line_no}", f"video {video_id} has length {length_sec}, "
                                                f"another file says {durations[video_id]}")
    return durations


def _discover_metadata(path: Path) -> list[Path]:
    found = sorted(path.parent.glob(METADATA_GLOB))
    if not found:
        raise AnnotationError(f"{path}: Charades-STA lines give no video duration; put {METADATA_GLOB} "
                              f"(the Charades metadata, column `length`) next to it or pass `durations`")
    return found


def read_charades_sta(path: Path, *, strict: bool = False, split: str | None = None, split_name: str | None = None,
                      durations: Mapping[str, float] | Iterable[Path] | None = None,
                      as_given: bool = False) -> AnnotationSet:
    """Read a Charades-STA txt file.

    Args:
        path: `charades_sta_{train,test}.txt`.
        strict: raise on every quirk instead of applying its policy.
        split: keep only this split (the file holds one).
        split_name: the file's split when its name does not tell.
        durations: video id -> seconds, or metadata csv paths; default: every `Charades_v1_*.csv` beside `path`.
        as_given: keep every window as given (evaluation); without metadata the durations are then NaN (unknown).

    Returns:
        An `AnnotationSet` with one `Query` (one window) per line.
    """
    path = Path(path)
    match = _SPLIT_RE.match(path.stem)
    file_split = split_name or (match.group(1) if match else None)
    b = AnnotationBuilder(FORMAT, path, strict=strict, split=split, as_given=as_given)
    if not b.wants(file_split):
        return b.build()
    if durations is None:
        durations = _discover_metadata(path) if not as_given or any(path.parent.glob(METADATA_GLOB)) else {}
    if not isinstance(durations, Mapping):
        durations = load_charades_durations(durations)
    for line_no, line in read_lines(path):
        query_id, where = line_no - 1, f"line {line_no}"
        head, sep, sentence = line.partition("##")
        fields = head.split()
        if not sep or len(fields) != 3:
            b.fail(where, f"expected 'VIDEO_ID start end##sentence', got {line[:80]!r}")
        video_id, start, end = fields
        if video_id not in durations and not (as_given and not durations):
            b.fail(where, f"video {video_id} has no duration in the Charades metadata")
        if not b.has_video(video_id):
            b.add_video(VideoRecord(video_id, float(durations.get(video_id, math.nan)), file_split), where)
        window = (parse_float(start, b.quirks, where, "start"), parse_float(end, b.quirks, where, "end"))
        b.add_query(query_id, video_id, sentence, [window], f"line {line_no} (query {query_id})")
    return b.build()
